"""The chat page in a real browser: Debian's chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.chat_server import running_app

import ui  # noqa: E402  (tests.chat_server puts the repository root on sys.path)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
COMBINATION = "Can upadacitinib be combined with ustekinumab?"
FOLLOW_UP = "Is it safe?"
OUTCOMES = "What were the 12- and 52-week outcomes of upadacitinib combination therapy?"
RESTRICTION = "is not recommended for use in combination with other JAK inhibitors"
TIMEOUT_MS = 30_000

BOT = "#chat [data-testid='bot']"
USER = "#chat [data-testid='user']"
# Done when the chat holds `n` answers and no event is running (Gradio's tracker is hidden again).
ANSWERS_DONE = """n => {
  const bots = document.querySelectorAll("#chat [data-testid='bot']").length;
  const tracker = document.querySelector("#chat [data-testid='status-tracker']");
  return bots >= n && (!tracker || tracker.classList.contains('hide'));
}"""
# Records the text of the first answer chunk the page shows.
WATCH_FIRST_CHUNK = """() => {
  window.__firstChunk = null;
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const bot = chat.querySelector("[data-testid='bot']");
    if (window.__firstChunk === null && bot && bot.innerText.trim()) window.__firstChunk = bot.innerText;
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def server(real_assistant, tmp_path_factory):
    """The app (answers streamed with the default pacing) on 127.0.0.1, started once for the module."""
    feedback = tmp_path_factory.mktemp("browser-feedback") / "feedback.jsonl"
    with running_app(real_assistant, feedback=feedback, export_dir=tmp_path_factory.mktemp("exports")) as url:
        yield {"url": url, "feedback": feedback}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(browser, server):
    """A fresh page (its own Gradio session) with the chat loaded; fails the test on page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server["url"], wait_until="load")  # never "networkidle": Gradio keeps a connection open
    page.locator("#question textarea").wait_for()
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def ask(page, question: str, answers: int) -> str:  # type: ignore[no-untyped-def]
    """Type a question, press Enter, wait until the chat shows `answers` answers; the last one's text."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(ANSWERS_DONE, arg=answers)
    return page.locator(BOT).nth(answers - 1).inner_text()


def marks(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Each <mark> of the sources panel: its text and its computed background colour."""
    return page.eval_on_selector_all(
        "#sources-panel mark",
        "ms => ms.map(m => ({text: m.innerText, background: getComputedStyle(m).backgroundColor}))")


def save_screenshot(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("QA_SCREENSHOT_DIR"):
        target = Path(os.environ["QA_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def test_combination_question(page, server, real_assistant, tmp_path: Path) -> None:
    banner = page.locator("#fda-banner")
    assert banner.is_visible()
    assert "not recommended for use in combination with other JAK inhibitors" in banner.inner_text()
    assert "documents" in page.locator("#status-line").inner_text()

    page.evaluate(WATCH_FIRST_CHUNK)
    text = ask(page, COMBINATION, answers=1)
    expected = real_assistant.ask(COMBINATION)

    # The notice leads the answer, from the very first chunk shown.
    first_chunk = page.evaluate("window.__firstChunk")
    assert first_chunk and "FDA labeling restriction" in first_chunk.split("\n")[0]
    notice = page.locator(f"{BOT} blockquote").first
    assert notice.is_visible() and "FDA labeling restriction" in notice.inner_text()
    assert "Off-label use." in notice.inner_text()
    assert text.index("FDA labeling restriction") < text.index("Answer.")

    # Every [n] in the answer is a numbered source in the panel, with its passage.
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    assert cited == [c.number for c in expected.citations]
    sources = page.locator("#sources-panel")
    panel = sources.inner_text()
    for citation in expected.citations:
        assert f"[{citation.number}] {citation.chunk.meta.title}" in panel
        first_line = next(line for line in citation.chunk.text.splitlines() if line.strip())
        assert " ".join(first_line.split())[:60] in " ".join(panel.split())
    assert sources.locator("blockquote").count() == len(expected.citations)
    assert sources.locator("a[href='https://www.rxabbvie.com/pdf/rinvoq_pi.pdf']").count() >= 1

    # Each source shows its evidence level; the label's restriction sentence is highlighted.
    assert "Evidence: FDA label" in panel
    assert panel.count("Evidence: ") == len(expected.citations) and "· evidence:" not in panel
    restriction = [m for m in marks(page) if RESTRICTION in m["text"]]
    assert len(restriction) == 1, f"no highlighted restriction in {marks(page)}"
    assert restriction[0]["background"] not in ("", "transparent", "rgba(0, 0, 0, 0)")
    label_quote = sources.locator("blockquote", has_text=RESTRICTION)
    assert label_quote.locator("mark").count() == 1 and label_quote.locator("script, img").count() == 0

    shot = save_screenshot(page, tmp_path, "chat-combination.png")
    assert shot.stat().st_size > 10_000

    # Export: the Markdown download is the answer with its sources.
    with page.expect_download() as download:
        page.locator("#download-md").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == ui.export_markdown(expected)

    # Thumbs up on the answer: one JSON line in the feedback file.
    path: Path = server["feedback"]
    before = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    page.locator("#chat button[aria-label='Like']").first.click()
    page.wait_for_function("() => document.querySelector('#feedback-note').innerText.includes('saved')")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    record = json.loads(lines[-1])
    assert record["vote"] == "up" and record["question"] == COMBINATION and record["answer"] == expected.text


def test_outcomes_question(page, real_assistant, tmp_path: Path) -> None:
    text = ask(page, OUTCOMES, answers=1)
    expected = real_assistant.ask(OUTCOMES)
    assert expected.outcomes and expected.conflicts

    # The outcome table of the answer is a real table.
    table = page.locator(f"{BOT} table")
    assert table.count() == 1
    assert [h.strip() for h in table.locator("th").all_inner_texts()] == [
        "Outcome", "Time point", "Result", "Source and evidence"]
    assert len(table.locator("tbody tr").all()) == len(expected.outcomes)
    row = table.locator("tr", has_text="24/27 patients (89%)")
    assert row.count() == 1 and "Clinical response" in row.inner_text() and "12 weeks" in row.inner_text()
    assert "Sources disagree" in text and "|" not in table.inner_text()  # no raw Markdown left

    # The sources panel marks the outcome sentences the table rests on.
    shown = [m["text"] for m in marks(page)]
    assert "Clinical response: 24/27 patients (89%)" in shown
    assert "Clinical response: 15/20 patients (75%)" in shown
    assert "Evidence: case series, n=27, 52 weeks (reported in an expert answer)" in page.locator(
        "#sources-panel").inner_text()

    table.scroll_into_view_if_needed()
    shot = save_screenshot(page, tmp_path, "chat-outcomes.png")
    assert shot.stat().st_size > 10_000

    # Export: the JSON download is the answer with its audit record.
    button = page.locator("#download-json")
    assert "audit record" in button.inner_text()
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert exported["question"] == OUTCOMES and exported["text"] == expected.text
    assert exported["audit"]["index_fingerprint"] == expected.audit["index_fingerprint"]
    assert exported["audit"] == expected.audit
    assert any(r["result"] == "24/27 patients (89%)" and r["time_point"] == "12 weeks" for r in exported["outcomes"])
    assert len(exported["outcomes"]) == len(expected.outcomes) and exported["conflicts"]
    assert exported["off_label"] is True
    assert all(c["evidence"] and c["quotes"] for c in exported["citations"])


def test_script_in_the_question_is_shown_not_run(page, tmp_path: Path) -> None:
    payload = ('<script>window.__xssScript = 1</script><img src=x onerror="window.__xssImg = 1"> '
               '*upadacitinib* with ustekinumab?')
    text = ask(page, payload, answers=1)
    assert "FDA labeling restriction" in text
    assert page.evaluate("[typeof window.__xssScript, typeof window.__xssImg]") == ["undefined", "undefined"]
    bubble = page.locator(USER).first
    assert bubble.inner_text().strip() == payload  # shown literally, markup and all
    assert page.locator("#chat script").count() == 0
    assert page.locator("#chat img[src='x']").count() == 0
    assert page.locator(f"{USER} em").count() == 0
    save_screenshot(page, tmp_path, "chat-script-payload.png")


def test_example_follow_up_errors_and_clear(page, real_assistant) -> None:
    page.locator("button", has_text=COMBINATION).first.click()  # an example question
    page.wait_for_function(ANSWERS_DONE, arg=1)
    assert page.locator(USER).first.inner_text().strip() == COMBINATION

    follow_up = ask(page, FOLLOW_UP, answers=2)  # read with the previous question
    history = [{"role": "user", "content": COMBINATION},
               {"role": "assistant", "content": real_assistant.ask(COMBINATION).text}]
    expected = real_assistant.ask(FOLLOW_UP, history)
    assert expected.prominent and not expected.abstained
    assert follow_up.lstrip().startswith("⚠") and "FDA labeling restriction" in follow_up.split("\n")[0]

    error = ask(page, "   ", answers=3)
    assert "The question is empty" in error and "Traceback" not in error

    page.locator("#clear-button").click()
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")
    assert "appear here" in page.locator("#sources-panel").inner_text()
    alone = ask(page, FOLLOW_UP, answers=1)  # no history any more
    assert "does not cover this question" in alone
