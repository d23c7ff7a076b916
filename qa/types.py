"""Frozen data passed between the pipeline stages."""

from __future__ import annotations

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
class Draft:
    """The composer's output: claims in answer order, or an abstention."""

    claims: tuple[Claim, ...]
    abstained: bool
    reason: str = ""


@dataclass(frozen=True)
class Citation:
    """A numbered source of the answer: the exact retrieved passage it rests on."""

    number: int
    chunk: Chunk
    score: float

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
            "locator": self.chunk.locator,
            "text": self.chunk.text,
            "score": round(self.score, 4),
        }

    def to_markdown(self) -> str:
        m = self.chunk.meta
        bits = [f"[{self.number}] **{m.title}**"]
        if m.authors:
            bits.append(", ".join(m.authors[:3]) + (" et al." if len(m.authors) > 3 else ""))
        if m.year:
            bits.append(str(m.year))
        bits.append(f"_{self.chunk.locator}_")
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
class CitedDraft:
    """Sentences whose citations were verified against the retrieved passages."""

    sentences: tuple[CitedSentence, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    dropped: int = 0
    reason: str = ""
    note: str = ""  # shown to the reader under the answer (e.g. 'fell back to quoting the sources')


@dataclass(frozen=True)
class SafetyNotice:
    id: str
    text: str
    prominent: bool
    citations: tuple[int, ...]
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "prominent": self.prominent,
            "citations": list(self.citations),
            "reasons": list(self.reasons),
        }

    def render(self) -> str:
        marks = "".join(f"[{n}]" for n in self.citations)
        return f"> **⚠️ {self.text}** {marks}".rstrip()


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

    def __post_init__(self) -> None:
        # The safety promise as an invariant: no Answer exists without the FDA notice.
        if not any(n.id == FDA_NOTICE_ID for n in self.safety):
            raise ValueError("An Answer must carry the FDA combination notice")

    @property
    def prominent(self) -> bool:
        return any(n.prominent for n in self.safety)

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
