"""The Gradio chat (ui.py): pure helpers, and the running app driven through gradio_client."""

from __future__ import annotations

import functools
import html
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import FDA_NOTICE_ID, FDA_NOTICE_TEXT, Answer, Citation, Evidence, QAError, SafetyNotice
from qa.types import Chunk, CitedRow, DocMeta  # hand-built answers for the unit tests

from tests.chat_server import free_port, running_app

import ui  # noqa: E402  (tests.chat_server puts the repository root on sys.path)

# Tests that load the real embedding model or start the app; the others are fast.
slow = pytest.mark.slow

COMBINATION = "Can upadacitinib be combined with ustekinumab?"
OUTCOMES = "What were the 12- and 52-week outcomes of upadacitinib combination therapy?"
RESTRICTION = "is not recommended for use in combination with other JAK inhibitors"
FOLLOW_UP = "Is it safe?"  # means nothing alone; after COMBINATION it is about the combination
OFF_TOPIC = "What is the weather in Paris?"
WITH_DOI = "Which references report dual targeted therapy?"
NOTICE_START = "> **⚠️ FDA labeling restriction"


def assistant_turns(chat: list[dict]) -> list[str]:
    """Texts of the assistant messages in a chatbot value as gradio_client returns it."""
    return [text_of(m) for m in chat if m["role"] == "assistant"]


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def render_html(markdown: str) -> str:
    """Markdown as a CommonMark renderer with GitHub tables shows it (inline HTML passes through)."""
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)


def marked_texts(html_text: str) -> list[str]:
    """The text inside each <mark> of rendered HTML."""
    return [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", html_text, flags=re.S)]


def strip_marks(markdown: str) -> str:
    return markdown.replace(ui.MARK_OPEN, "").replace(ui.MARK_CLOSE, "")


def cited(text: str, *quotes: str, number: int = 1, evidence: Evidence | None = None,
          url: str = "https://example.org/study") -> Citation:
    """A citation of a hand-written passage, citing the given (verbatim) sentences of it."""
    spans = tuple(sorted((text.index(q), text.index(q) + len(q)) for q in quotes))
    chunk = Chunk(id=f"study#{number}", doc_id="study", text=text, section="Results", kind="paragraph",
                  meta=DocMeta(title=f"Study {number}", authors=("Doe J",), year=2024, url=url),
                  evidence=evidence)
    return Citation(number=number, chunk=chunk, score=0.5, spans=spans)


def hand_answer(*citations: Citation, **fields) -> Answer:  # type: ignore[no-untyped-def]
    notice = SafetyNotice(id=FDA_NOTICE_ID, text=FDA_NOTICE_TEXT, prominent=True, citations=(),
                          off_label="Combining them is off-label.")
    return Answer(question="Does it <b>work</b>?", text="**Answer.** It does. [1]", citations=citations,
                  safety=(notice,), abstained=False, **fields)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def assistant(real_assistant):
    """The real pipeline (MiniLM + FAISS, index in a temp dir), loaded once for the session."""
    return real_assistant


@pytest.fixture(scope="module")
def answer_to(assistant):
    """assistant.ask for a first question, memoised (answers are deterministic)."""
    return functools.lru_cache(maxsize=None)(assistant.ask)


@pytest.fixture(scope="module")
def server(assistant, tmp_path_factory):
    """The app on 127.0.0.1 with a free port, started once for the module."""
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    with running_app(assistant, feedback=feedback, export_dir=tmp_path_factory.mktemp("exports"),
                     stream_delay=0.0) as url:
        yield {"url": url, "feedback": feedback}


@pytest.fixture()
def client(server):
    """A fresh client: its own session, so its own conversation."""
    from gradio_client import Client

    return Client(server["url"], verbose=False, download_files=str(Path(server["feedback"]).parent / "dl"))


def file_of(output) -> Path:  # type: ignore[no-untyped-def]
    """A DownloadButton output: the client gets an update with the downloaded file's path."""
    return Path(output["value"] if isinstance(output, dict) else output)


def ask(client, question: str):  # type: ignore[no-untyped-def]
    """All streamed outputs of one question: (textbox, chatbot, sources, download md, download json)."""
    job = client.submit(question, api_name="/ask")
    outputs = list(job)
    final = job.result()
    if not outputs or outputs[-1] != final:
        outputs.append(final)
    return outputs


# --------------------------------------------------------------------------- pure helpers


def test_escape_text_neutralises_html_and_markdown() -> None:
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)"> *bold* [x](javascript:alert(3)) # h'
    out = ui.escape_text(payload)
    assert "<" not in out and ">" not in out
    assert "&lt;script&gt;" in out and "&lt;img src\\=x onerror\\=" in out
    assert "\\*bold\\*" in out and "\\[x\\]\\(javascript:alert\\(3\\)\\)" in out and "\\# h" in out


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|~$=])", r"\1", html.unescape(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_escape_text_is_lossless(text: str) -> None:
    assert _unescape(ui.escape_text(text)) == text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60))
def test_escaped_text_renders_as_itself(text: str) -> None:
    """Rendered by a CommonMark renderer, escaped text is one paragraph showing exactly what was typed."""
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").render(ui.escape_text(text)).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>")
    inner = rendered[3:-4]
    assert "<" not in inner  # no element of any kind: only text
    assert html.unescape(inner) == text


def test_user_bubble_shortens_long_questions() -> None:
    assert ui.user_bubble("  a < b  ") == "a &lt; b"
    long = "upadacitinib " * 300
    bubble = ui.user_bubble(long, limit=100)
    assert len(bubble) < 200 and bubble.endswith(f"(shortened; {len(long):,} characters)")


@slow
def test_stream_chunks_grow_to_the_answer_and_start_with_the_notice(answer_to) -> None:
    answer = answer_to(COMBINATION)
    chunks = list(ui.stream_chunks(answer.text))
    assert len(chunks) >= 3
    # The first chunk is the whole leading blockquote: the notice and the off-label paragraph, nothing else.
    assert chunks[0].startswith(NOTICE_START) and "**🚫 Off-label use.**" in chunks[0]
    assert all(line.startswith(">") for line in chunks[0].split("\n"))
    assert chunks[-1] == answer.text
    assert all(b.startswith(a) and len(b) > len(a) for a, b in zip(chunks, chunks[1:]))


def test_stream_chunks_of_text_without_paragraphs() -> None:
    assert list(ui.stream_chunks("one line")) == ["one line"]
    assert list(ui.stream_chunks("a\n\nb\nc")) == ["a", "a\n\nb", "a\n\nb\nc"]
    assert list(ui.stream_chunks("a\n\n\nb\n\n- c\n")) == ["a", "a\n\n\nb", "a\n\n\nb\n\n- c", "a\n\n\nb\n\n- c\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab -*>\n"))
def test_stream_chunks_are_growing_prefixes(text: str) -> None:
    chunks = list(ui.stream_chunks(text))
    assert chunks[0] == text.partition("\n\n")[0] and chunks[-1] == text
    assert all(text.startswith(c) for c in chunks)
    assert all(len(a) < len(b) for a, b in zip(chunks, chunks[1:]))


# --------------------------------------------------------------------------- sources panel (hand-built)


def test_passage_lines_mark_the_cited_sentence_and_escape_the_rest() -> None:
    text = "Dose <b>15 mg</b> daily. Remission in 9/27 (33%) at week 12. Other *text*."
    citation = cited(text, "Remission in 9/27 (33%) at week 12.")
    assert ui.passage_lines(citation) == [
        "Dose &lt;b&gt;15 mg&lt;/b&gt; daily\\. <mark>Remission in 9/27 \\(33%\\) at week 12\\.</mark> "
        "Other \\*text\\*\\."
    ]


def test_passage_lines_close_and_reopen_a_mark_at_line_breaks() -> None:
    text = "Lead-in:\n- first item\n\n- second item ends.\nTail."
    start, end = text.index("first"), text.index("ends.") + len("ends.")
    citation = Citation(number=1, chunk=cited(text).chunk, score=0.5, spans=((start, end),))
    lines = ui.passage_lines(citation)
    assert lines == ["Lead\\-in:", "\\- <mark>first item</mark>", "<mark>\\- second item ends\\.</mark>", "Tail\\."]
    rendered = render_html("\n".join(f"> {line}  " for line in lines))
    assert rendered.count("<blockquote>") == 1  # one quote, one paragraph, a <br> per line
    for piece in rendered.split("<br />"):
        assert piece.count("<mark>") == piece.count("</mark>") <= 1
    assert marked_texts(rendered) == ["first item", "- second item ends."]


@st.composite
def passages_with_spans(draw) -> tuple[str, tuple[tuple[int, int], ...]]:  # type: ignore[no-untyped-def]
    """A passage (markup characters, blank lines and all) and sorted, disjoint, non-empty spans of it."""
    text = draw(st.text(alphabet="ab <>*#-.\n", min_size=2, max_size=80))
    bounds = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=6)))
    return text, tuple(zip(bounds[::2], bounds[1::2]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passages_with_spans())
def test_passage_lines_keep_the_text_and_mark_exactly_the_quotes(case) -> None:  # type: ignore[no-untyped-def]
    text, spans = case
    citation = Citation(number=1, chunk=cited(text).chunk, score=0.5, spans=spans)
    lines = ui.passage_lines(citation)
    # The passage itself, line for line (blank lines dropped), shown literally.
    assert [_unescape(strip_marks(line)) for line in lines] == [line for line in text.splitlines() if line.strip()]
    for line in lines:  # every line balanced, marks never nested or empty
        tokens = re.findall(r"</?mark>", line)
        assert tokens == ["<mark>", "</mark>"] * (len(tokens) // 2)
        assert "<mark></mark>" not in line
    # What is marked is exactly what the citation quotes (whitespace aside).
    inside = "".join(_unescape(m) for line in lines for m in re.findall(r"<mark>(.*?)</mark>", line))
    assert "".join(inside.split()) == "".join("".join(citation.quotes).split())


EXPERT = Evidence(kind="case series", n=27, follow_up="52 weeks", basis="section 'Single Case Series Data'",
                  within="expert answer")


def test_render_sources_shows_the_evidence_level_once_on_its_own_line() -> None:
    graded = cited("Clinical response: 24/27 patients (89%).", "Clinical response: 24/27 patients (89%).",
                   evidence=EXPERT)
    ungraded = cited("No design stated here.", "No design stated here.", number=2,
                     evidence=Evidence(kind="", basis="manifest"))
    plain = cited("Nothing known of it.", "Nothing known of it.", number=3)
    panel = ui.render_sources(hand_answer(graded, ungraded, plain))
    label = "case series, n=27, 52 weeks (reported in an expert answer)"
    assert f"evidence: {label}" in graded.to_markdown()  # the heading's own wording ...
    assert "evidence:" not in panel  # ... is replaced by the line below, not repeated
    heading = graded.to_markdown().replace(f" · evidence: {label}", "")
    assert f"{heading}  \n**Evidence:** {ui.escape_text(label)}\n\n> " in panel
    assert f"{ungraded.to_markdown()}  \n**Evidence:** design not stated\n\n> " in panel
    assert f"{plain.to_markdown()}\n\n> " in panel and panel.count("**Evidence:**") == 2
    rendered = render_html(panel)
    assert f"<strong>Evidence:</strong> {label}</p>" in rendered
    assert "<b>" not in rendered and "Does it &lt;b&gt;work&lt;/b&gt;?" in rendered  # the question, escaped
    assert marked_texts(rendered) == ["Clinical response: 24/27 patients (89%).", "No design stated here.",
                                      "Nothing known of it."]


def test_export_json_is_the_answer_with_its_audit_record() -> None:
    citation = cited("Short-term outcomes (12 weeks):\n- Clinical response: 24/27 patients (89%)",
                     "Clinical response: 24/27 patients (89%)", evidence=EXPERT)
    row = CitedRow(outcome="Clinical response", time_point="12 weeks", result="24/27 patients (89%)", number=1,
                   evidence=EXPERT.label(), source="Study 1", quote="Clinical response: 24/27 patients (89%)")
    audit = {"corpus_digest": "c0ffee", "index_fingerprint": "be4c83e98fd9160b", "embedder": "all-MiniLM-L6-v2",
             "settings_hash": "48300af5abe1e1c6", "context": ""}
    answer = hand_answer(citation, audit=audit, outcomes=(row,), retrieved=(("study#1", 0.81),),
                         timings_ms={"retrieve": 3.2})
    exported = json.loads(ui.export_json(answer))
    assert exported["audit"] == audit and exported["off_label"] is True
    assert exported["retrieved"] == [{"chunk_id": "study#1", "score": 0.81}] and exported["timings_ms"]
    assert exported["outcomes"] == [row.to_dict()] and exported["conflicts"] == []
    (c,) = exported["citations"]
    assert c["evidence"]["label"] == EXPERT.label()
    start = citation.chunk.text.index("Clinical")
    assert c["quotes"] == [{"text": "Clinical response: 24/27 patients (89%)", "start": start,
                            "end": start + len("Clinical response: 24/27 patients (89%)")}]


# --------------------------------------------------------------------------- sources panel (real answers)


@slow
def test_render_sources_lists_every_citation_with_its_passage(answer_to) -> None:
    answer = answer_to(COMBINATION)
    panel = ui.render_sources(answer)
    assert panel.startswith("**Sources for:** ")
    headings = [c.to_markdown().replace(f" · evidence: {c.chunk.evidence.label()}", "") for c in answer.citations]
    positions = [panel.index(h + "  \n**Evidence:** ") for h in headings]
    assert positions == sorted(positions)  # numbered in order, each with its evidence level
    assert " · evidence: " not in panel and panel.count("**Evidence:**") == len(answer.citations)
    plain = strip_marks(panel)
    for citation in answer.citations:
        first_line = next(line for line in citation.chunk.text.splitlines() if line.strip())
        assert f"> {ui.escape_text(first_line)}" in plain
    label = next(c for c in answer.citations if "RINVOQ" in c.chunk.meta.title)
    assert label.chunk.meta.url in panel


@slow
def test_render_sources_marks_the_label_restriction(answer_to) -> None:
    answer = answer_to(COMBINATION)
    label = next(c for c in answer.citations if "RINVOQ" in c.chunk.meta.title)
    assert label.chunk.evidence is not None and label.chunk.evidence.label() == "FDA label"
    (quote,) = label.quotes
    assert RESTRICTION in quote
    panel = ui.render_sources(answer)
    section = panel[panel.index(f"[{label.number}] **"):]
    assert section.index("**Evidence:** FDA label") < section.index(f"> <mark>{ui.escape_text(quote)}</mark>")
    rendered = render_html(panel)
    assert any(RESTRICTION in m for m in marked_texts(rendered))


@slow
def test_render_sources_marks_every_quote_of_an_outcomes_answer(answer_to) -> None:
    answer = answer_to(OUTCOMES)
    marks = marked_texts(render_html(ui.render_sources(answer)))
    quoted = [line.strip() for c in answer.citations for q in c.quotes for line in q.splitlines() if line.strip()]
    assert quoted and marks == quoted
    assert "Clinical response: 24/27 patients (89%)" in marks


@slow
def test_render_sources_links_dois(answer_to) -> None:
    answer = answer_to(WITH_DOI)
    dois = [c.to_dict()["doi"] for c in answer.citations if c.to_dict()["doi"]]
    assert dois, "expected a cited reference with a DOI"
    panel = ui.render_sources(answer)
    for doi in dois:
        assert f"<https://doi.org/{doi}>" in panel


@slow
def test_render_sources_escapes_the_question(answer_to) -> None:
    answer = answer_to("<b>upadacitinib</b> with ustekinumab?")
    assert "<b>" not in ui.render_sources(answer)


@slow
def test_exports_use_the_answer_formats(answer_to) -> None:
    answer = answer_to(COMBINATION)
    md = ui.export_markdown(answer)
    assert md.startswith(f"**Question.** {ui.escape_text(COMBINATION)}") and md.endswith(answer.to_markdown())
    assert json.loads(ui.export_json(answer)) == json.loads(json.dumps(answer.to_dict()))


@slow
def test_export_json_of_an_outcomes_answer(answer_to) -> None:
    answer = answer_to(OUTCOMES)
    exported = json.loads(ui.export_json(answer))
    assert {"audit", "outcomes", "conflicts", "off_label", "retrieved", "timings_ms"} <= set(exported)
    assert {"corpus_digest", "index_fingerprint", "embedder", "settings_hash"} <= set(exported["audit"])
    assert exported["audit"]["embedder"] == "all-MiniLM-L6-v2" and exported["off_label"] is True
    assert {(r["time_point"], r["result"]) for r in exported["outcomes"]} >= {
        ("12 weeks", "24/27 patients (89%)"), ("52 weeks", "15/20 patients (75%)")}
    assert exported["conflicts"], "the sources disagree on adverse events"
    for citation, data in zip(answer.citations, exported["citations"]):
        assert data["evidence"]["label"] == citation.chunk.evidence.label()
        assert data["quotes"] and all(citation.chunk.text[q["start"]:q["end"]] == q["text"] for q in data["quotes"])


def test_error_message_is_friendly() -> None:
    assert ui.error_message(QAError("The question is <empty>")) == "⚠️ The question is &lt;empty&gt;"
    shown = ui.error_message(RuntimeError("/secret/path.py line 3"))
    assert "secret" not in shown and "went wrong" in shown


@pytest.mark.parametrize(("liked", "vote"), [(True, "up"), (False, "down"), ("", "cleared"), (None, "cleared"),
                                             ("Inaccurate", "inaccurate")])
def test_vote_name(liked, vote) -> None:  # type: ignore[no-untyped-def]
    assert ui.vote_name(liked) == vote


@slow
def test_feedback_record_and_append_jsonl(answer_to, tmp_path: Path) -> None:
    answer = answer_to(COMBINATION)
    record = ui.feedback_record(answer, "up", message_index=1)
    assert datetime.fromisoformat(record["timestamp"]).tzinfo is not None
    assert record["question"] == COMBINATION and record["answer"] == answer.text and record["vote"] == "up"
    assert record["citations"] == [c.to_dict() for c in answer.citations]
    path = tmp_path / "new" / "feedback.jsonl"
    ui.append_jsonl(path, record)
    ui.append_jsonl(path, ui.feedback_record(answer, "down"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["vote"] for line in lines] == ["up", "down"]


@slow
def test_conversation_answer_at(answer_to) -> None:
    conv = ui.Conversation()
    assert conv.answer_at(-1) is None
    first, second = answer_to(COMBINATION), answer_to(OFF_TOPIC)
    conv.answers = {1: first, 3: second}
    assert conv.answer_at(None) == (3, second) and conv.answer_at(-1) == (3, second)
    assert conv.answer_at(1) == (1, first) and conv.answer_at(2) is None


@slow
def test_banner_states_the_guardrails_notice(answer_to) -> None:
    """The banner and the answers show the guardrail's notice word for word."""
    plain = answer_to(OFF_TOPIC)
    assert not plain.prominent and plain.safety[0].text == ui.FDA_NOTICE
    assert answer_to(COMBINATION).safety[0].text.startswith(ui.FDA_NOTICE)
    assert ui.FDA_NOTICE in ui.BANNER


# --------------------------------------------------------------------------- the running app


@slow
def test_api_endpoints(client) -> None:
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/ask", "/clear", "/feedback"} <= set(named)


@slow
def test_page_shows_banner_and_status(server, assistant) -> None:
    import httpx

    config = httpx.get(server["url"] + "config", timeout=10).json()
    values = [c.get("props", {}).get("value") for c in config["components"]]
    texts = [v for v in values if isinstance(v, str)]
    assert any(ui.FDA_NOTICE in t for t in texts), "the FDA banner is missing from the page"
    assert any(ui.escape_text(assistant.status().line()) in t for t in texts), "the status line is missing"
    buttons = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c.get("type") == "downloadbutton"}
    assert "audit record" in buttons["download-json"]["label"] and buttons["download-json"]["interactive"] is False


@slow
def test_combination_answer_streams_with_notice_first(client, answer_to) -> None:
    outputs = ask(client, COMBINATION)
    expected = answer_to(COMBINATION)
    assert expected.prominent
    partials = list(dict.fromkeys(assistant_turns(out[1])[-1] for out in outputs if assistant_turns(out[1])))
    assert len(partials) >= 3, "the answer should stream in several chunks"
    assert all(p.startswith(NOTICE_START) for p in partials), "every chunk, the first too, starts with the notice"
    assert all(len(a) < len(b) for a, b in zip(partials, partials[1:])), "the answer only grows"
    textbox, chat, sources, md_file, json_file = outputs[-1]
    assert textbox == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert text_of(chat[0]) == ui.escape_text(COMBINATION)
    assert text_of(chat[1]) == expected.text

    cited = {int(n) for n in re.findall(r"\[(\d+)\]", expected.text)}
    assert cited == {c.number for c in expected.citations}
    assert sources == ui.render_sources(expected)
    assert "Limitations of Use" in sources
    label = next(c for c in expected.citations if "RINVOQ" in c.chunk.meta.title)
    section = sources[sources.index(f"[{label.number}] **"):]
    heading = label.to_markdown().replace(" · evidence: FDA label", "")
    assert section.startswith(f"{heading}  \n**Evidence:** FDA label")
    assert RESTRICTION in "".join(re.findall(r"^> <mark>(.*?)</mark>", section, flags=re.M)[:1])

    assert file_of(md_file).read_text(encoding="utf-8") == ui.export_markdown(expected)
    exported = json.loads(file_of(json_file).read_text(encoding="utf-8"))
    assert exported["text"] == expected.text and exported["question"] == COMBINATION
    assert [c["n"] for c in exported["citations"]] == [c.number for c in expected.citations]
    assert exported["audit"] == expected.audit and exported["off_label"] is True


@slow
def test_outcomes_answer_has_a_table_and_an_audited_export(client, answer_to) -> None:
    expected = answer_to(OUTCOMES)
    _, chat, sources, _, json_file = ask(client, OUTCOMES)[-1]
    shown = assistant_turns(chat)[-1]
    assert shown == expected.text
    table = render_html(shown)
    assert "<table>" in table and "<th>Outcome</th>" in table
    row = r"<td>Clinical response</td>\s*<td>12 weeks \[\d+\]</td>\s*<td>24/27 patients \(89%\) \[\d+\]</td>"
    assert re.search(row, table)
    assert "**Sources disagree**" in shown and "**🚫 Off-label use.**" in shown.split("\n\n")[0]
    assert sources == ui.render_sources(expected)
    assert "<mark>Clinical response: 24/27 patients \\(89%\\)</mark>" in sources

    exported = json.loads(file_of(json_file).read_text(encoding="utf-8"))
    assert exported["audit"]["index_fingerprint"] == expected.audit["index_fingerprint"]
    assert exported["audit"] == expected.audit
    assert exported["outcomes"] == json.loads(json.dumps([r.to_dict() for r in expected.outcomes]))
    assert any(r["result"] == "24/27 patients (89%)" for r in exported["outcomes"])
    assert exported["conflicts"] and exported["off_label"] is True
    assert [c["source_id"] for c in exported["citations"]] == [c.chunk.id for c in expected.citations]
    assert all(c["evidence"]["label"] and c["quotes"] for c in exported["citations"])
    assert [r["chunk_id"] for r in exported["retrieved"]] == [cid for cid, _ in expected.retrieved]


@slow
def test_off_topic_answer_keeps_the_notice_at_the_end(client) -> None:
    chat = ask(client, OFF_TOPIC)[-1][1]
    answer = assistant_turns(chat)[-1]
    assert not answer.startswith(NOTICE_START)
    assert "does not cover this question" in answer and ui.FDA_NOTICE in answer


@slow
def test_follow_up_uses_the_conversation(client, assistant, answer_to) -> None:
    first = ask(client, COMBINATION)[-1][1]
    chat = ask(client, FOLLOW_UP)[-1][1]
    assert len(chat) == 4
    history = [{"role": "user", "content": COMBINATION}, {"role": "assistant", "content": text_of(first[1])}]
    with_history = assistant.ask(FOLLOW_UP, history)
    alone = answer_to(FOLLOW_UP)
    assert with_history.text != alone.text  # the check below can tell them apart
    assert text_of(chat[3]) == with_history.text
    assert text_of(chat[3]).startswith(NOTICE_START)


@slow
def test_clear_starts_a_new_conversation(client, answer_to) -> None:
    ask(client, COMBINATION)
    cleared = client.predict(api_name="/clear")
    assert cleared[1] == [] and cleared[2] == ui.SOURCES_PLACEHOLDER
    chat = ask(client, FOLLOW_UP)[-1][1]
    assert len(chat) == 2 and text_of(chat[1]) == answer_to(FOLLOW_UP).text


@slow
@pytest.mark.parametrize(("question", "shown", "expected"), [
    ("", None, "The question is empty"),
    ("   ", None, "The question is empty"),
    ("upadacitinib " * 400, "characters)", "the limit is 2,000"),
])
def test_errors_are_friendly_messages(client, question, shown, expected) -> None:  # type: ignore[no-untyped-def]
    chat = ask(client, question)[-1][1]
    reply = text_of(chat[-1])
    assert chat[-1]["role"] == "assistant" and reply.startswith("⚠️ ") and expected in reply
    assert "Traceback" not in reply and "File \"" not in reply
    if shown is None:
        assert len(chat) == 1  # no empty user bubble
    else:
        assert text_of(chat[0]).endswith(shown)
    # a failed question is not history: the next question is answered on its own
    assert "Traceback" not in json.dumps(chat)


@slow
def test_html_in_the_question_is_escaped(client) -> None:
    payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> upadacitinib with ustekinumab?'
    chat = ask(client, payload)[-1][1]
    bubble = text_of(chat[0])
    assert "<script" not in bubble and "<img" not in bubble
    assert "&lt;script&gt;" in bubble and "&lt;img src\\=x" in bubble
    assert assistant_turns(chat)[-1].startswith(NOTICE_START)


@slow
def test_feedback_is_appended_as_json_lines(client, server, answer_to) -> None:
    path: Path = server["feedback"]
    before = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    ask(client, COMBINATION)
    note = client.predict("down", -1, api_name="/feedback")
    assert "saved" in note
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    record = json.loads(lines[-1])
    expected = answer_to(COMBINATION)
    assert record["vote"] == "down" and record["question"] == COMBINATION
    assert record["answer"] == expected.text and record["message_index"] == 1
    assert record["citations"] == json.loads(json.dumps([c.to_dict() for c in expected.citations]))
    assert datetime.fromisoformat(record["timestamp"])


@slow
def test_feedback_without_an_answer_writes_nothing(client, server) -> None:
    path: Path = server["feedback"]
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    assert "answers only" in client.predict("up", -1, api_name="/feedback")
    assert (path.read_text(encoding="utf-8") if path.exists() else "") == before


class AskOnly:
    """An assistant with `ask` and `status` only (no `ask_stream`): the UI streams the answer itself."""

    def __init__(self, assistant) -> None:  # type: ignore[no-untyped-def]
        self.ask, self.status = assistant.ask, assistant.status


@slow
def test_streams_answers_of_an_assistant_without_ask_stream(assistant, answer_to, tmp_path: Path) -> None:
    from gradio_client import Client

    app = ui.build_app(AskOnly(assistant),  # type: ignore[arg-type]
                       feedback_path=tmp_path / "f.jsonl", stream_delay=0.0, export_dir=tmp_path / "exports")
    port = free_port()
    ui.launch(app, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "dl"))
        outputs = ask(client, COMBINATION)
    finally:
        app.close()
    partials = list(dict.fromkeys(assistant_turns(out[1])[-1] for out in outputs if assistant_turns(out[1])))
    assert partials == list(ui.stream_chunks(answer_to(COMBINATION).text))
    assert partials[0].startswith(NOTICE_START) and len(partials) >= 3
