"""Frozen data passed between the pipeline stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

BlockKind = Literal["paragraph", "list", "reference", "author", "caption"]


class QAError(Exception):
    """An error meant for the user: it names the value and the fix."""


@dataclass(frozen=True)
class DocMeta:
    """Bibliographic metadata of one corpus document (from the manifest or the file)."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str = ""
    doi: str = ""
    url: str = ""
    licence: str = ""
    kind: str = ""
    label: str = ""
    n: int | None = None  # number of patients, when the manifest states it
    follow_up: str = ""  # longest follow-up, when the manifest states it ('52 weeks')

    def short(self) -> str:
        """'Knyazev et al. 2025' style label (or the manifest's `label`)."""
        if self.label:
            return self.label
        if self.authors:
            first = self.authors[0].split(",")[0].split()
            surname = first[-1] if first else self.authors[0]
            who = surname + (" et al." if len(self.authors) > 1 else "")
        else:
            who = self.title if len(self.title) <= 48 else self.title[:48].rsplit(" ", 1)[0] + "…"
        return f"{who} {self.year}" if self.year else who


@dataclass(frozen=True)
class Reference:
    """One entry of a document's reference list, parsed into fields."""

    number: int
    raw: str
    authors: str = ""
    title: str = ""
    journal: str = ""
    year: int | None = None
    doi: str = ""


@dataclass(frozen=True)
class Block:
    """A unit of document structure: a paragraph, a list with its lead-in, a reference, ...

    For lists, `text` holds the lead-in line (may be empty) followed by one line per item,
    each item line starting with "- ".
    """

    section: str
    text: str
    kind: BlockKind = "paragraph"
    page: int | None = None
    reference: Reference | None = None


@dataclass(frozen=True)
class Document:
    doc_id: str
    path: str
    sha256: str
    meta: DocMeta
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Evidence:
    """The kind of evidence a passage rests on, with n and follow-up where the source states them.

    `kind` is one of `qa.evidence.LEVELS` ('' when the source does not say). `basis` says where it
    was read: 'manifest', 'document', 'section <heading>' or 'reference title'. `within` names the
    kind of document that reports it when that differs (a case series summarised in an expert answer).
    """

    kind: str = ""
    n: int | None = None
    follow_up: str = ""
    basis: str = ""
    within: str = ""

    def label(self) -> str:
        """'case series, n=27, 52 weeks (reported in an expert answer)'."""
        parts = [self.kind or "design not stated"]
        if self.n is not None:
            parts.append(f"n={self.n}")
        if self.follow_up:
            parts.append(self.follow_up)
        text = ", ".join(parts)
        if self.within:
            text += f" (reported in {_article(self.within)} {self.within})"
        if self.basis == "reference title":
            text = f"reference list entry: {text}" + (" (from its title)" if self.kind else "")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "follow_up": self.follow_up, "basis": self.basis,
                "within": self.within, "label": self.label()}


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with a stable id and a human-readable locator."""

    id: str
    doc_id: str
    text: str
    section: str
    kind: BlockKind
    meta: DocMeta
    page: int | None = None
    reference: Reference | None = None
    evidence: Evidence | None = None

    @property
    def locator(self) -> str:
        parts = [self.meta.short()]
        if self.section:
            parts.append(self.section)
        if self.reference is not None:
            parts.append(f"ref. {self.reference.number}")
        if self.page is not None:
            parts.append(f"p. {self.page}")
        return " › ".join(parts)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the evidence behind it."""

    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None


@dataclass(frozen=True)
class Claim:
    """One answer sentence and the retrieved chunk(s) it rests on.

    Quoted claims (the extractive composer): `fragments` are verbatim pieces of the chunk
    (e.g. a list lead-in and one item); the cite stage checks each against the chunk.
    Generated claims (`quoted=False`, from a language model): one paraphrased sentence in
    `fragments`, citing `chunk_id` and `more_chunk_ids`; the cite stage checks that the cited
    passages hold most of its content words and all of its numbers.
    """

    fragments: tuple[str, ...]
    chunk_id: str
    score: float = 0.0
    quoted: bool = True
    more_chunk_ids: tuple[str, ...] = ()

    @property
    def chunk_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.chunk_id, *self.more_chunk_ids)))

    @property
    def text(self) -> str:
        if len(self.fragments) == 1:
            return self.fragments[0]
        lead, *rest = self.fragments
        return lead.rstrip(" :") + ": " + "; ".join(rest)


@dataclass(frozen=True)
class OutcomeRow:
    """One reported result of a passage: outcome, time point, result, and the words it rests on.

    `fragments` are verbatim pieces of the chunk (a list lead-in and one item, or one sentence);
    the cite stage checks them and every number of the row against the chunk.
    """

    outcome: str
    time_point: str  # '12 weeks'; '' when the passage does not say
    result: str  # '24/27 patients (89%)', 'all patients', 'none ("without serious adverse events")'
    chunk_id: str
    fragments: tuple[str, ...]
    category: str  # 'response', 'remission', 'adverse events', ... (compares rows across sources)
    value: float | None = None  # share of patients in percent when the result states one (none = 0)


@dataclass(frozen=True)
class Conflict:
    """Retrieved passages from different sources that disagree on one outcome."""

    topic: str
    rows: tuple[OutcomeRow, ...]


@dataclass(frozen=True)
class Findings:
    """The outcome table (for questions about results) and the disagreements between sources."""

    rows: tuple[OutcomeRow, ...] = ()
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True)
class Draft:
    """The composer's output: claims in answer order, or an abstention."""

    claims: tuple[Claim, ...]
    abstained: bool
    reason: str = ""


@dataclass(frozen=True)
class Citation:
    """A numbered source of the answer: the exact retrieved passage it rests on.

    `spans` are (start, end) offsets into `chunk.text` of the sentence(s) the answer cites it
    for; `quotes` gives their text and `highlighted()` the passage with them marked.
    """

    number: int
    chunk: Chunk
    score: float
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def quotes(self) -> tuple[str, ...]:
        return tuple(self.chunk.text[a:b] for a, b in self.spans)

    def highlighted(self, start: str = "**", end: str = "**", escape: Callable[[str], str] | None = None) -> str:
        """The passage with its cited sentence(s) between `start` and `end`; `escape` (e.g.
        html.escape) is applied to the passage text, not to the marks."""
        esc = escape or (lambda t: t)
        out, pos = [], 0
        for a, b in self.spans:
            out += [esc(self.chunk.text[pos:a]), start, esc(self.chunk.text[a:b]), end]
            pos = b
        out.append(esc(self.chunk.text[pos:]))
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        m = self.chunk.meta
        return {
            "n": self.number,
            "source_id": self.chunk.id,
            "doc_id": self.chunk.doc_id,
            "title": m.title,
            "authors": list(m.authors),
            "year": m.year,
            "doi": (self.chunk.reference.doi if self.chunk.reference and self.chunk.reference.doi else m.doi),
            "url": m.url,
            "kind": m.kind,
            "evidence": self.chunk.evidence.to_dict() if self.chunk.evidence else None,
            "locator": self.chunk.locator,
            "text": self.chunk.text,
            "quotes": [{"text": self.chunk.text[a:b], "start": a, "end": b} for a, b in self.spans],
            "score": round(self.score, 4),
        }

    def to_markdown(self, *, evidence: bool = True) -> str:
        """'[n] **title** · authors · year · _locator_ · evidence: ... · doi'; `evidence=False`
        leaves the evidence level out (for a layout that shows it elsewhere)."""
        m = self.chunk.meta
        bits = [f"[{self.number}] **{m.title}**"]
        if m.authors:
            bits.append(", ".join(m.authors[:3]) + (" et al." if len(m.authors) > 3 else ""))
        if m.year:
            bits.append(str(m.year))
        bits.append(f"_{self.chunk.locator}_")
        graded = self.chunk.evidence
        if evidence and graded and (graded.kind or graded.basis == "reference title"):
            bits.append(f"evidence: {graded.label()}")
        doi = self.chunk.reference.doi if self.chunk.reference and self.chunk.reference.doi else m.doi
        if doi:
            bits.append(f"doi:{doi}")
        elif m.url:
            bits.append(m.url)
        return " · ".join(bits)


@dataclass(frozen=True)
class CitedSentence:
    text: str
    numbers: tuple[int, ...]

    def render(self) -> str:
        marks = "".join(f"[{n}]" for n in self.numbers)
        return f"{self.text} {marks}".strip()


@dataclass(frozen=True)
class CitedRow:
    """A verified outcome-table row (or one side of a conflict) with its citation number."""

    outcome: str
    time_point: str
    result: str
    number: int
    evidence: str  # the evidence label of the cited passage ('case series, n=27, 52 weeks ...')
    source: str  # short name of the source document ('Knyazev et al. 2025')
    quote: str  # the passage words the row rests on

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "time_point": self.time_point, "result": self.result,
                "citation": self.number, "evidence": self.evidence, "source": self.source, "quote": self.quote}


@dataclass(frozen=True)
class CitedConflict:
    topic: str
    rows: tuple[CitedRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "statements": [r.to_dict() for r in self.rows],
                "citations": sorted({r.number for r in self.rows})}


@dataclass(frozen=True)
class CitedDraft:
    """Sentences whose citations were verified against the retrieved passages."""

    sentences: tuple[CitedSentence, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    dropped: int = 0
    reason: str = ""
    note: str = ""  # shown to the reader under the answer (e.g. 'fell back to quoting the sources')
    outcomes: tuple[CitedRow, ...] = ()
    conflicts: tuple[CitedConflict, ...] = ()


@dataclass(frozen=True)
class SafetyNotice:
    id: str
    text: str
    prominent: bool
    citations: tuple[int, ...]
    reasons: tuple[str, ...] = ()
    off_label: str = ""  # set when the answer is about a use the label restricts: says it is off-label

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "prominent": self.prominent,
            "off_label": bool(self.off_label),
            "off_label_text": self.off_label,
            "citations": list(self.citations),
            "reasons": list(self.reasons),
        }

    def render(self) -> str:
        marks = "".join(f"[{n}]" for n in self.citations)
        text = f"> **⚠️ {self.text}** {marks}".rstrip()
        if self.off_label:
            text += f"\n>\n> **🚫 Off-label use.** {self.off_label} {marks}".rstrip()
        return text


FDA_NOTICE_ID = "fda-upadacitinib-combination"


@dataclass(frozen=True)
class Answer:
    """The final, guarded answer. Only the guardrail stage builds one."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    safety: tuple[SafetyNotice, ...]
    abstained: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    retrieved: tuple[tuple[str, float], ...] = ()
    note: str = ""  # e.g. why a generated answer fell back to quoting the sources
    generator: str = ""  # the composer that wrote the body ('extractive', 'openai-compatible:<model>', ...)
    audit: dict[str, Any] = field(default_factory=dict)  # corpus digest, index fingerprint, embedder, settings hash
    outcomes: tuple[CitedRow, ...] = ()  # the outcome table, for questions about results
    conflicts: tuple[CitedConflict, ...] = ()  # where retrieved sources disagree

    def __post_init__(self) -> None:
        # The safety promise as an invariant: no Answer exists without the FDA notice.
        if not any(n.id == FDA_NOTICE_ID for n in self.safety):
            raise ValueError("An Answer must carry the FDA combination notice")

    @property
    def prominent(self) -> bool:
        return any(n.prominent for n in self.safety)

    @property
    def off_label(self) -> bool:
        return any(n.off_label for n in self.safety)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "safety": [n.to_dict() for n in self.safety],
            "abstained": self.abstained,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "retrieved": [{"chunk_id": cid, "score": round(s, 4)} for cid, s in self.retrieved],
            "note": self.note,
            "generator": self.generator,
            "off_label": self.off_label,
            "outcomes": [r.to_dict() for r in self.outcomes],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "audit": dict(self.audit),
        }

    def to_markdown(self) -> str:
        lines = [self.text, ""]
        if self.citations:
            lines.append("**Sources**")
            lines.append("")
            lines.extend(f"{c.to_markdown()}  " for c in self.citations)
        return "\n".join(lines).rstrip() + "\n"


def as_plain(obj: Any) -> Any:
    """asdict for our frozen dataclasses (tuples become lists)."""
    return asdict(obj)
