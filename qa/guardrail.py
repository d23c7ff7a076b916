"""The FDA combination restriction for upadacitinib: detect, attach, place. Deterministic code.

This is the last stage of every answer and the only place an `Answer` is built. Nothing in
the question, the history, the corpus or a generator's output can remove the notice: it is
attached unconditionally, and detection only decides whether it comes first (prominent).
"""

from __future__ import annotations

import re
from typing import Any

from dataclasses import replace

from qa.cite import locate, merge_spans
from qa.drugs import concerns_jak_combination
from qa.textparse import split_sentences
from qa.types import FDA_NOTICE_ID, Answer, Chunk, Citation, CitedConflict, CitedDraft, CitedRow, DocMeta, SafetyNotice

LABEL_QUOTE = (
    "RINVOQ (upadacitinib) is not recommended for use in combination with other JAK inhibitors, "
    "biological therapies for Crohn's disease, or with potent immunosuppressants such as azathioprine "
    "and cyclosporine."
)
NOTICE_TEXT = (
    "FDA labeling restriction: upadacitinib (RINVOQ) is not recommended for use in combination with "
    "other JAK inhibitors, biological therapies for Crohn's disease, or with potent immunosuppressants "
    "such as azathioprine and cyclosporine."
)
OFF_LABEL_TEXT = (
    "Combining upadacitinib with a biologic, another JAK inhibitor or a potent immunosuppressant is "
    "off-label and contrary to the FDA labeling; the evidence below does not change that."
)
TABLE_HEAD = "**Outcomes reported** (as stated in the cited passages; not pooled, not compared across sources)"
CONFLICT_HEAD = "**Sources disagree**"
LABEL_DOC_ID = "fda-rinvoq-label"
# Used only when the corpus lacks the label document, so the notice can always cite its source.
BUILTIN_LABEL = Chunk(
    id=f"{LABEL_DOC_ID}:builtin",
    doc_id=LABEL_DOC_ID,
    text=LABEL_QUOTE,
    section="Limitations of Use",
    kind="paragraph",
    meta=DocMeta(
        title="RINVOQ (upadacitinib) prescribing information: Limitations of Use",
        authors=("AbbVie Inc.",),
        journal="FDA-approved labeling (US prescribing information)",
        url="https://www.rxabbvie.com/pdf/rinvoq_pi.pdf",
        kind="FDA label",
    ),
)
_KEY_PHRASE = "not recommended for use in combination with other jak inhibitors"


def find_label_chunk(chunks: list[Chunk]) -> Chunk:
    """The indexed passage that states the restriction (label document first), else the built-in copy."""
    candidates = [c for c in chunks if _KEY_PHRASE in " ".join(c.text.lower().split())]
    candidates.sort(key=lambda c: (c.meta.kind != "FDA label", c.doc_id != LABEL_DOC_ID, len(c.text)))
    return candidates[0] if candidates else BUILTIN_LABEL


def label_span(chunk: Chunk) -> tuple[int, int] | None:
    """Offsets of the sentence of the label passage that states the restriction."""
    for sentence in split_sentences(chunk.text):
        if _KEY_PHRASE in " ".join(sentence.lower().split()):
            return locate(chunk.text, sentence)
    return None


def _cell(text: str) -> str:
    """Table cell text: pipes, brackets and markup characters shown literally."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split())) or "not stated"


def _table(rows: tuple[CitedRow, ...]) -> list[str]:
    lines = ["", TABLE_HEAD, "", "| Outcome | Time point | Result | Source and evidence |", "|---|---|---|---|"]
    for r in rows:
        time = f"{_cell(r.time_point)} [{r.number}]" if r.time_point else "not stated"
        lines.append(f"| {_cell(r.outcome)} | {time} | {_cell(r.result)} [{r.number}] | "
                     f"{_cell(r.source)}: {_cell(r.evidence)} |")
    return lines


def _conflicts(conflicts: tuple[CitedConflict, ...]) -> list[str]:
    lines = ["", CONFLICT_HEAD]
    for c in conflicts:
        sides = "; ".join(
            f"{_cell(r.source)} ({_cell(r.evidence)}): {_cell(r.outcome).lower()}"
            f"{' at ' + _cell(r.time_point) if r.time_point else ''}, {_cell(r.result)} [{r.number}]"
            for r in c.rows
        )
        measures = list(dict.fromkeys(r.outcome.lower() for r in c.rows))
        why = "patients, follow-up or definitions"
        if len(measures) > 1:
            why += " (they measure " + " vs ".join(_cell(m) for m in measures) + ")"
        lines.append(f"- On {c.topic}: {sides}. The sources may differ in {why}; both are shown rather than "
                     "one chosen.")
    return lines


def _body(draft: CitedDraft, abstain_text: str) -> str:
    if draft.abstained:
        return abstain_text
    first, *rest = draft.sentences
    lines = [f"**Answer.** {first.render()}"]
    if rest:
        lines += ["", "**Evidence**", *[f"- {s.render()}" for s in rest]]
    if draft.outcomes:
        lines += _table(draft.outcomes)
    if draft.conflicts:
        lines += _conflicts(draft.conflicts)
    return "\n".join(lines)


def apply(
    *,
    question: str,
    context: str,
    draft: CitedDraft,
    label_chunk: Chunk,
    abstain_text: str,
    timings_ms: dict[str, float],
    retrieved: tuple[tuple[str, float], ...] = (),
    force_prominent: bool = False,
    generator: str = "",
    audit: dict[str, Any] | None = None,
) -> Answer:
    """Attach the FDA notice (prominent when the combination is at issue) and build the Answer.

    `force_prominent` can only raise the notice to the top (a streamed answer keeps it there once
    an earlier part put it there); nothing can lower it. `draft.note` is shown as its own line
    after the body, never in place of the notice.
    """
    answer_text = " ".join([*(s.text for s in draft.sentences), *(r.quote for r in draft.outcomes)])
    hit_q, reasons_q = concerns_jak_combination(f"{context}\n{question}")
    hit_a, reasons_a = concerns_jak_combination(answer_text)
    prominent = hit_q or hit_a or force_prominent
    reasons = tuple(dict.fromkeys([*(f"question: {r}" for r in reasons_q), *(f"answer: {r}" for r in reasons_a)]))

    citations = list(draft.citations)
    span = label_span(label_chunk)
    label_number = next((c.number for c in citations if c.chunk.id == label_chunk.id), None)
    if label_number is None:
        label_number = len(citations) + 1
        citations.append(Citation(number=label_number, chunk=label_chunk, score=0.0, spans=(span,) if span else ()))
    elif span:
        i = next(k for k, c in enumerate(citations) if c.number == label_number)
        citations[i] = replace(citations[i], spans=merge_spans([*citations[i].spans, span]))

    notice = SafetyNotice(
        id=FDA_NOTICE_ID,
        text=NOTICE_TEXT,
        prominent=prominent,
        citations=(label_number,),
        reasons=reasons,
        off_label=OFF_LABEL_TEXT if prominent else "",
    )
    body = _body(draft, abstain_text)
    note = " ".join(draft.note.split())
    if note:
        shown = re.sub(r"([\\`*_\[\]<>#])", r"\\\1", note)  # plain text inside the italics
        body = f"{body}\n\n_Note: {shown}_"
    if prominent:
        text = f"{notice.render()}\n\n{body}"
    else:
        marks = f"[{label_number}]"
        text = f"{body}\n\n_Safety: {NOTICE_TEXT}_ {marks}"
    if not any(cid == label_chunk.id for cid, _ in retrieved):
        retrieved = (*retrieved, (label_chunk.id, 0.0))  # the guardrail fetches the label passage itself
    return Answer(
        question=question,
        text=text,
        citations=tuple(citations),
        safety=(notice,),
        abstained=draft.abstained,
        timings_ms=timings_ms,
        retrieved=retrieved,
        note=note,
        generator=generator,
        audit=dict(audit or {}),
        outcomes=draft.outcomes,
        conflicts=draft.conflicts,
    )
