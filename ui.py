"""Gradio chat for clinicians: cited answers on combination therapy of Crohn's disease.

    python ui.py [--host 127.0.0.1] [--port 7860] [--feedback-file feedback/feedback.jsonl]

A thin layer over the public `qa` API: answers, citations and exports are formatted by
`Answer.to_markdown()`, `Citation.to_markdown()`, `Citation.highlighted()` and `to_dict()`; this
module only lays them out (each source with its evidence level and the cited sentences marked in
its passage), streams the answer in, escapes what the user typed, offers the answer with its
audit record as a JSON download and stores thumbs up/down feedback as append-only JSON lines.
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics look-ups, no hub telemetry (the machine is offline).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from qa import FDA_NOTICE_TEXT, Answer, Assistant, Citation, QAError  # noqa: E402

log = logging.getLogger("qa.ui")

TITLE = "Crohn's disease therapy Q&A: upadacitinib and biologics"
FDA_NOTICE = FDA_NOTICE_TEXT  # the guardrail's notice, word for word
BANNER = (
    f"### ⚠️ {FDA_NOTICE}\n\n"
    "Combining upadacitinib with a biologic is off-label. Answers rest only on the indexed "
    "sources, each statement numbered [n] against the passage it comes from (see *Sources*); "
    "they support, and do not replace, clinical judgement and the prescribing information."
)
EXAMPLES = [
    "Can upadacitinib be combined with ustekinumab?",
    "What are the options after upadacitinib failure in Crohn's disease?",
    "What outcomes were reported for upadacitinib plus ustekinumab in the clinical cases?",
    "Is risankizumab an alternative after upadacitinib failure?",
]
SOURCES_PLACEHOLDER = "_The numbered sources of the latest answer, with the cited passages, appear here._"
ERROR_PREFIX = "⚠️ "
UNEXPECTED_ERROR = ("Sorry, something went wrong while answering; the details are in the server log. "
                    "Please try again or rephrase the question.")
MAX_BUBBLE_CHARS = 600
STREAM_DELAY_S = 0.04
CSS = """
#fda-banner { border: 2px solid #b45309; border-left-width: 8px; background: #fffbeb;
              border-radius: 8px; padding: 4px 16px; }
#fda-banner h3 { color: #92400e; margin: 6px 0; font-size: 1.05rem; }
#status-line { font-size: 0.85rem; opacity: 0.85; }
#sources-panel { font-size: 0.92rem; }
#sources-panel blockquote { margin: 4px 0 14px 0; }
#sources-panel mark { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 2px; }
#chat table th, #chat table td { word-break: normal; }  /* outcome table: wrap between words only */
"""

# System fonts: the default theme fetches web fonts, which an offline clinic network cannot reach.
THEME = gr.themes.Default(
    font=["Helvetica Neue", "Arial", "Liberation Sans", "DejaVu Sans", "sans-serif"],
    font_mono=["Menlo", "Consolas", "Liberation Mono", "DejaVu Sans Mono", "monospace"],
)

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# markup. <, > and & become HTML entities instead, so no tag is ever formed.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=])")
# The cited sentence(s) of a passage. Gradio's Markdown sanitizer keeps <mark>; escaped passage
# text never contains "<", so these are the only tags in a rendered passage.
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
_MARK_TAGS = re.compile(f"({re.escape(MARK_OPEN)}|{re.escape(MARK_CLOSE)})")


# --------------------------------------------------------------------------- pure helpers


def escape_text(text: str) -> str:
    """Text shown literally by a Markdown renderer: no markup, no HTML tags, nothing executed."""
    return html.escape(_MARKDOWN_ACTIVE.sub(r"\\\1", text), quote=False)


def user_bubble(question: str, *, limit: int = MAX_BUBBLE_CHARS) -> str:
    """The chat bubble for what the user typed: escaped, and shortened when very long."""
    text = question.strip()
    if len(text) <= limit:
        return escape_text(text)
    return escape_text(text[:limit].rstrip()) + f" … (shortened; {len(question):,} characters)"


def stream_chunks(text: str) -> Iterator[str]:
    """Growing prefixes of an answer, a line at a time: the first paragraph (the FDA notice,
    when the answer puts it first) comes whole in the very first chunk."""
    head, sep, rest = text.partition("\n\n")
    yield head
    shown, end = head, len(head) + len(sep)
    for line in rest.split("\n") if sep else ():
        end += len(line)
        if line.strip():
            shown = text[:end]
            yield shown
        end += 1  # the newline after the line
    if shown != text:  # the last chunk is always the whole answer
        yield text


def evidence_label(citation: Citation) -> str | None:
    """'case series, n=27, 52 weeks (reported in an expert answer)', or None when not graded."""
    evidence = citation.chunk.evidence
    return evidence.label() if evidence is not None else None


def passage_lines(citation: Citation) -> list[str]:
    """The cited passage as escaped Markdown lines (blank lines dropped), the sentence(s) the
    answer cites for it between <mark> and </mark>. A mark never crosses a line: one that spans a
    line break is closed at the end of the line and opened again on the next, so every line of
    the blockquote is balanced on its own."""
    text = citation.highlighted(start=MARK_OPEN, end=MARK_CLOSE, escape=escape_text)
    lines, marked = [], False
    for raw in text.splitlines():
        pieces = []
        for token in _MARK_TAGS.split(raw):
            if token == MARK_OPEN:
                marked = True
            elif token == MARK_CLOSE:
                marked = False
            elif token:
                pieces.append(f"{MARK_OPEN}{token}{MARK_CLOSE}" if marked and token.strip() else token)
        line = "".join(pieces)
        if line.strip():
            lines.append(line)
    return lines


def render_sources(answer: Answer) -> str:
    """The sources panel: each numbered source with title, locator and link, its evidence level
    on a line of its own, and the passage with the cited sentence(s) highlighted."""
    if not answer.citations:
        return SOURCES_PLACEHOLDER
    parts = [f"**Sources for:** {escape_text(answer.question)}"]
    for citation in answer.citations:
        data = citation.to_dict()
        heading = citation.to_markdown(evidence=False)  # title, authors, year, locator, doi or URL
        label = evidence_label(citation)
        if label is not None:  # on its own line below the heading
            heading += f"  \n**Evidence:** {escape_text(label)}"
        parts.append(heading)
        parts.append("\n".join(f"> {line}  " for line in passage_lines(citation)))
        if data["doi"]:
            parts.append(f"<https://doi.org/{data['doi']}>")
    return "\n\n".join(parts)


def export_markdown(answer: Answer) -> str:
    """The downloadable Markdown: question, answer with [n] marks and the numbered sources."""
    return f"**Question.** {escape_text(answer.question)}\n\n{answer.to_markdown()}"


def export_json(answer: Answer) -> str:
    """The downloadable JSON: `Answer.to_dict()`, i.e. the answer with its audit record (corpus
    digest, index fingerprint, embedder, settings hash; retrieved chunk ids with scores, timings,
    generator), citations with evidence level and quoted spans, outcome table, disagreements
    between sources and the off-label flag. `qa replay` asks such a file again and compares."""
    return json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) + "\n"


def error_message(exc: BaseException) -> str:
    """What the chat shows for a failure: the QAError's own advice, else a generic apology."""
    if isinstance(exc, QAError):
        return ERROR_PREFIX + escape_text(str(exc))
    return ERROR_PREFIX + UNEXPECTED_ERROR


def vote_name(liked: Any) -> str:
    """gr.LikeData.liked -> 'up' / 'down' / 'cleared' (a second click takes a vote back)."""
    if liked is True:
        return "up"
    if liked is False:
        return "down"
    return str(liked or "").strip().lower() or "cleared"


def feedback_record(answer: Answer, vote: str, *, message_index: int | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """One line of the feedback file: when, the vote, and the answer voted on with its sources."""
    return {
        "timestamp": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "vote": vote,
        "question": answer.question,
        "answer": answer.text,
        "citations": [c.to_dict() for c in answer.citations],
        "abstained": answer.abstained,
        "prominent_notice": answer.prominent,
        "message_index": message_index,
    }


_append_lock = threading.Lock()


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and force it to disk, so a stopped server loses nothing."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _append_lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


@dataclass
class Conversation:
    """One browser session: what the chat shows, what `ask` sees, and the Answer behind each reply."""

    messages: list[dict[str, str]] = field(default_factory=list)  # chatbot value (escaped user text)
    history: list[dict[str, str]] = field(default_factory=list)  # raw turns passed to assistant.ask
    answers: dict[int, Answer] = field(default_factory=dict)  # chatbot message index -> Answer

    def answer_at(self, index: int | None) -> tuple[int, Answer] | None:
        """The Answer shown at a chat message index (None or -1: the latest answer)."""
        if index is None or index < 0:
            return max(self.answers.items()) if self.answers else None
        return (index, self.answers[index]) if index in self.answers else None


# --------------------------------------------------------------------------- the app


def build_app(assistant: Assistant, *, feedback_path: str | Path,
              stream_delay: float = STREAM_DELAY_S, export_dir: str | Path | None = None) -> gr.Blocks:
    """The chat page for an already-loaded Assistant (launch it with `launch`)."""
    feedback_path = Path(feedback_path)
    exports = Path(export_dir) if export_dir else Path(tempfile.mkdtemp(prefix="qa-ui-exports-"))
    exports.mkdir(parents=True, exist_ok=True)
    status = assistant.status()
    status_md = f"**Loaded:** {escape_text(status.line())}"
    if status.problems:
        status_md += "  \n**Index problems:** " + escape_text("; ".join(status.problems))

    def write_exports(answer: Answer) -> tuple[str, str]:
        stem = exports / f"answer-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
        md.write_text(export_markdown(answer), encoding="utf-8")
        js.write_text(export_json(answer), encoding="utf-8")
        return str(md), str(js)

    def answer_parts(question: str, history: list[dict[str, str]]) -> Iterator[tuple[str, Answer]]:
        """(text to show, Answer) as the answer grows. `Assistant.ask_stream` yields guarded
        Answers a verified sentence at a time (a language model's pace); without it, `ask`'s
        answer is shown a line at a time. Either way the FDA notice is in the first part."""
        ask_stream = getattr(assistant, "ask_stream", None)
        if ask_stream is not None:
            for answer in ask_stream(question, history):
                yield answer.text, answer
            return
        answer = assistant.ask(question, history)
        for text in stream_chunks(answer.text):
            yield text, answer

    def respond(message: str | None, conv: Conversation):  # type: ignore[no-untyped-def]
        """Outputs: textbox, chatbot, sources, state, download .md, download .json."""
        question = message or ""
        skip = gr.skip()
        if question.strip():
            conv.messages.append({"role": "user", "content": user_bubble(question)})
            yield "", conv.messages, skip, conv, skip, skip
        index, answer, shown_sources = len(conv.messages), None, None
        try:
            for n, (text, answer) in enumerate(answer_parts(question, conv.history)):
                if n == 0:
                    conv.messages.append({"role": "assistant", "content": ""})
                else:
                    time.sleep(stream_delay)
                conv.messages[index]["content"] = text
                sources = render_sources(answer)
                yield "", conv.messages, skip if sources == shown_sources else sources, conv, skip, skip
                shown_sources = sources
        except Exception as exc:  # noqa: BLE001 - the chat shows a message, never a traceback
            if not isinstance(exc, QAError):
                log.exception("answering %r failed", question[:200])
            del conv.messages[index:]  # no half answer stays on screen
            conv.messages.append({"role": "assistant", "content": error_message(exc)})
            yield "", conv.messages, skip, conv, skip, skip
            return
        if answer is None:  # defensive: a pipeline that yielded nothing
            conv.messages.append({"role": "assistant", "content": error_message(RuntimeError())})
            yield "", conv.messages, skip, conv, skip, skip
            return
        conv.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        conv.answers[index] = answer
        md, js = write_exports(answer)
        yield ("", conv.messages, render_sources(answer), conv,
               gr.DownloadButton(value=md, interactive=True), gr.DownloadButton(value=js, interactive=True))

    def clear():  # type: ignore[no-untyped-def]
        off = gr.DownloadButton(value=None, interactive=False)
        return "", [], SOURCES_PLACEHOLDER, Conversation(), off, off, ""

    def vote(conv: Conversation, message_index: int | None, liked: Any) -> str:
        found = conv.answer_at(message_index)
        if found is None:
            return "_Feedback is recorded for answers only._"
        index, answer = found
        choice = vote_name(liked)
        append_jsonl(feedback_path, feedback_record(answer, choice, message_index=index))
        if choice == "cleared":
            return "_Your vote was withdrawn (recorded)._"
        return f"_Thank you: your feedback ({choice}) on this answer was saved._"

    def on_like(conv: Conversation, data: gr.LikeData) -> str:
        return vote(conv, data.index if isinstance(data.index, int) else -1, data.liked)

    def feedback_api(vote_text: str, message_index: float | None, conv: Conversation) -> str:
        liked = {"up": True, "like": True, "down": False, "dislike": False}.get((vote_text or "").strip().lower(),
                                                                                  vote_text)
        return vote(conv, -1 if message_index is None else int(message_index), liked)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        conv_state = gr.State(Conversation())
        gr.Markdown(f"# {TITLE}\nCited answers from a curated corpus of sources. Ask follow-up questions: "
                    "the conversation so far is taken into account.")
        gr.Markdown(BANNER, elem_id="fda-banner")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="Conversation", elem_id="chat", height=None, min_height=480, max_height=1000,
                    sanitize_html=True, allow_tags=False, render_markdown=True, latex_delimiters=[],
                    group_consecutive_messages=False,  # so a thumb always belongs to one answer
                    feedback_options=("Like", "Dislike"), buttons=["copy", "copy_all"], layout="bubble",
                    placeholder="Ask about upadacitinib, biologics and their combination in Crohn's disease.",
                )
                with gr.Row():
                    textbox = gr.Textbox(
                        show_label=False, placeholder="Type a question and press Enter", scale=6,
                        elem_id="question", max_lines=6, autofocus=True, submit_btn=False,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-button")
                examples = gr.Examples(EXAMPLES, inputs=[textbox], label="Example questions (click to ask)")
                with gr.Row():
                    clear_btn = gr.Button("Clear conversation", size="sm", elem_id="clear-button")
                    download_md = gr.DownloadButton("Download last answer (.md)", size="sm", interactive=False,
                                                    elem_id="download-md")
                    download_json = gr.DownloadButton("Download answer + audit record (.json)", size="sm",
                                                      interactive=False, elem_id="download-json")
                feedback_note = gr.Markdown("", elem_id="feedback-note")
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("### Sources")
                sources = gr.Markdown(SOURCES_PLACEHOLDER, elem_id="sources-panel", max_height=900,
                                      container=True, padding=True, latex_delimiters=[])
        gr.Markdown(status_md, elem_id="status-line")

        # API-only inputs so that API clients can vote too (the page uses the thumbs on each answer).
        with gr.Row(visible=False):
            api_vote = gr.Textbox(label="vote (up/down)")
            api_index = gr.Number(label="message index (-1: latest answer)", value=-1, precision=0)
            api_vote_button = gr.Button("vote")

        # One answer at a time (queued): the pipeline, and a local language model, serve one request at once.
        outputs = [textbox, chatbot, sources, conv_state, download_md, download_json]
        gr.on([textbox.submit, send.click], respond, [textbox, conv_state], outputs,
              api_name="ask", show_progress="minimal", concurrency_id="ask", concurrency_limit=1)
        examples.load_input_event.then(respond, [textbox, conv_state], outputs,
                                       api_visibility="private", concurrency_id="ask", concurrency_limit=1)
        clear_outputs = [textbox, chatbot, sources, conv_state, download_md, download_json, feedback_note]
        clear_btn.click(clear, None, clear_outputs, api_name="clear")
        chatbot.clear(clear, None, clear_outputs, api_visibility="private")
        chatbot.like(on_like, [conv_state], [feedback_note], api_visibility="private")
        api_vote_button.click(feedback_api, [api_vote, api_index, conv_state], [feedback_note],
                              api_name="feedback")
    return app


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = 7860, **kwargs: Any) -> Any:
    """Start the server (blocking unless prevent_thread_lock=True); in Gradio 6 theme and CSS go here."""
    return app.queue(default_concurrency_limit=8).launch(
        server_name=host, server_port=port, css=CSS, theme=THEME, footer_links=["api"], run_history=False, **kwargs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chat with the Crohn's disease therapy assistant in a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default $QA_UI_PORT or 7860)")
    parser.add_argument("--feedback-file", type=Path, default=Path("feedback/feedback.jsonl"),
                        help="append-only JSON lines of thumbs up/down (default feedback/feedback.jsonl)")
    args = parser.parse_args(argv)
    if args.port is None:
        try:
            args.port = int(os.environ.get("QA_UI_PORT", "7860"))
        except ValueError:
            parser.error(f"QA_UI_PORT must be a port number, not {os.environ['QA_UI_PORT']!r}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print("Loading the index and the embedding model…", file=sys.stderr)
    try:
        assistant = Assistant.load()
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(assistant.status().line(), file=sys.stderr)
    app = build_app(assistant, feedback_path=args.feedback_file)
    launch(app, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
