"""Number the citations and verify each one against the passage it points to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from qa.retrieve import fold, tokenize
from qa.textparse import LIST_DASH, REF_MARKER, split_sentences, strip_ref_markers
from qa.types import (
    Citation,
    CitedConflict,
    CitedDraft,
    CitedRow,
    CitedSentence,
    Claim,
    Draft,
    Findings,
    Hit,
    OutcomeRow,
)

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "’": "'", "‘": "'", "–": "-", "—": "-"})


def normalise(text: str) -> str:
    """Comparison form: no '(ref. n)' markers, no list dashes, straight quotes, single spaces, lower case."""
    text = strip_ref_markers(text).translate(_QUOTES)
    text = LIST_DASH.sub("", text)
    return _SPACE.sub(" ", text).strip().lower()


def _normal_with_map(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the offset in `text` it came from."""
    # The same steps in the same order as normalise(): markers out, then list dashes (a dash
    # can open a line only once the marker before it is gone), then quotes, spaces and case.
    kept = list(range(len(text)))
    for rx in (REF_MARKER, LIST_DASH):
        current = "".join(text[i] for i in kept)
        hidden = bytearray(len(current))
        for m in rx.finditer(current):
            hidden[m.start():m.end()] = b"\x01" * (m.end() - m.start())
        kept = [i for j, i in enumerate(kept) if not hidden[j]]
    out: list[str] = []
    origin: list[int] = []
    space = True
    for i in kept:
        ch = text[i]
        if ch.isspace():
            if not space:
                out.append(" ")
                origin.append(i)
            space = True
            continue
        space = False
        for c in ch.translate(_QUOTES).lower():
            out.append(c)
            origin.append(i)
    while out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def locate(passage: str, fragment: str) -> tuple[int, int] | None:
    """Offsets of `fragment` in `passage` under the same normalisation as `supports` (None if absent)."""
    frag = normalise(fragment)
    norm, origin = _normal_with_map(passage)
    pos = norm.find(frag) if frag else -1
    if pos < 0:
        return None
    return origin[pos], origin[pos + len(frag) - 1] + 1


def closest_sentence(passage: str, sentence: str) -> tuple[int, int] | None:
    """Offsets of the passage sentence sharing most content words with `sentence` (a paraphrase)."""
    words = _words(sentence)
    pieces = [p for block in passage.split("\n") for p in split_sentences(block)]
    best = max(pieces, key=lambda p: len(words & _words(p)), default="")
    if not best or not words & _words(best):
        return None
    return locate(passage, best)


def merge_spans(spans: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return tuple(out)


def supports(passage: str, fragment: str) -> bool:
    """True when the fragment is verbatim (after normalisation) in the passage."""
    frag = normalise(fragment)
    return bool(frag) and frag in normalise(passage)


PARAPHRASE_MIN_SHARE = 0.75
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n't\b")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(fold(text))}


def _words(text: str) -> set[str]:
    return {t for t in tokenize(text) if not any(ch.isdigit() for ch in t)}


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(fold(text).replace("’", "'")))


def supports_paraphrase(
    passages: str | Sequence[str], sentence: str, *, min_share: float = PARAPHRASE_MIN_SHARE
) -> bool:
    """True when the passage(s) back a paraphrased sentence.

    Every number of the sentence ('24/27' -> 24 and 27, '89%', '52', '1.5') must be in the
    passages, at least `min_share` of its content words (`qa.retrieve.tokenize`: stemmed, no
    stop words) too, and the passage sentence closest to it must agree on negation (so "is
    recommended" is not backed by "is not recommended"). A sentence with fewer than two content
    words and numbers together ("Yes.", "Upadacitinib.") says nothing and is never supported.
    """
    text = passages if isinstance(passages, str) else "\n".join(passages)
    words = _words(sentence)
    numbers = _numbers(sentence)
    if not words or len(words) + len(numbers) < 2 or not numbers <= _numbers(text):
        return False
    if len(words & set(tokenize(text))) < min_share * len(words):
        return False
    pieces = [p for block in text.split("\n") for p in split_sentences(block)] or [text]
    closest = max(pieces, key=lambda p: len(words & _words(p)))
    return _negated(sentence) == _negated(closest)


def supporting_hits(hits: Sequence[Hit], sentence: str) -> tuple[Hit, ...]:
    """The cited hits needed to support a paraphrased sentence (none when even all of them fail).

    A citation that adds nothing (the sentence is supported without it) is left out.
    """
    used = list(hits)
    if not used or not supports_paraphrase([h.chunk.text for h in used], sentence):
        return ()
    for h in list(used):
        rest = [u for u in used if u is not h]
        if rest and supports_paraphrase([u.chunk.text for u in rest], sentence):
            used = rest
    return tuple(used)


def _supporting(claim: Claim, by_id: dict[str, Hit]) -> tuple[Hit, ...]:
    if claim.quoted:
        hit = by_id.get(claim.chunk_id)
        ok = hit is not None and all(supports(hit.chunk.text, f) for f in claim.fragments if f)
        return (hit,) if ok and hit is not None else ()
    return supporting_hits([by_id[c] for c in claim.chunk_ids if c in by_id], claim.text)


class _Numbering:
    """Citation numbers in first-use order, with the passage spans each one is cited for."""

    def __init__(self, start: Sequence[Citation] = ()) -> None:
        self.hits: dict[str, Hit] = {}
        self.numbers: dict[str, int] = {}
        self.spans: dict[str, list[tuple[int, int]]] = {}
        self.kept: dict[str, Citation] = {}
        for c in start:
            self.numbers[c.chunk.id] = c.number
            self.kept[c.chunk.id] = c
            self.spans[c.chunk.id] = list(c.spans)

    def cite(self, hit: Hit, spans: Iterable[tuple[int, int] | None]) -> int:
        cid = hit.chunk.id
        if cid not in self.numbers:
            self.numbers[cid] = len(self.numbers) + 1
            self.hits[cid] = hit
        self.spans.setdefault(cid, []).extend(s for s in spans if s is not None)
        return self.numbers[cid]

    def citations(self) -> tuple[Citation, ...]:
        out = []
        for cid, n in self.numbers.items():
            spans = merge_spans(self.spans.get(cid, []))
            if cid in self.kept:
                out.append(replace(self.kept[cid], spans=spans))
            else:
                hit = self.hits[cid]
                out.append(Citation(number=n, chunk=hit.chunk, score=hit.score, spans=spans))
        return tuple(sorted(out, key=lambda c: c.number))


def _claim_spans(claim: Claim, hit: Hit) -> list[tuple[int, int] | None]:
    if claim.quoted:
        return [locate(hit.chunk.text, f) for f in claim.fragments if f]
    return [closest_sentence(hit.chunk.text, claim.text)]


def verify(draft: Draft, hits: tuple[Hit, ...], findings: Findings | None = None) -> CitedDraft:
    """Keep the claims their cited passages support; number sources in first-use order.

    Quoted claims need every fragment verbatim in their passage (`supports`); generated ones
    (`quoted=False`) need `supports_paraphrase` from the passages they cite, and keep only the
    citations that are needed. Claims citing nothing that was retrieved are dropped. Each
    citation records the spans of its passage that the answer rests on. `findings` (outcome
    rows and conflicts) are checked and numbered after the sentences (`add_findings`).
    """
    by_id = {h.chunk.id: h for h in hits}
    numbering = _Numbering()
    sentences: list[CitedSentence] = []
    dropped = 0
    for claim in draft.claims:
        support = _supporting(claim, by_id)
        if not support:
            dropped += 1  # cites something not retrieved, or text its passage does not hold
            continue
        numbers = tuple(numbering.cite(hit, _claim_spans(claim, hit)) for hit in support)
        sentences.append(CitedSentence(text=claim.text, numbers=numbers))
    abstained = draft.abstained or not sentences
    reason = draft.reason or ("no claim survived citation checks" if abstained else "")
    cited = CitedDraft(
        sentences=tuple(sentences), citations=numbering.citations(), abstained=abstained, dropped=dropped,
        reason=reason,
    )
    return add_findings(cited, findings, hits) if findings else cited


def row_supported(row: OutcomeRow, passage: str) -> bool:
    """Every fragment of the row is verbatim in the passage, and so is every number of its cells."""
    if not row.fragments or not all(supports(passage, f) for f in row.fragments if f):
        return False
    cells = f"{row.outcome} {row.time_point} {row.result}"
    return _numbers(cells) <= _numbers(passage)


def add_findings(cited: CitedDraft, findings: Findings | None, hits: Sequence[Hit]) -> CitedDraft:
    """Check the outcome rows and conflicts against their passages and number their citations
    after the answer's own (an abstained answer gets none: there is nothing to tabulate)."""
    if findings is None or cited.abstained or not (findings.rows or findings.conflicts):
        return cited
    by_id = {h.chunk.id: h for h in hits}
    numbering = _Numbering(cited.citations)

    def cite_row(row: OutcomeRow) -> CitedRow | None:
        hit = by_id.get(row.chunk_id)
        if hit is None or not row_supported(row, hit.chunk.text):
            return None
        number = numbering.cite(hit, [locate(hit.chunk.text, f) for f in row.fragments if f])
        ev = hit.chunk.evidence
        return CitedRow(outcome=row.outcome, time_point=row.time_point, result=row.result, number=number,
                        evidence=ev.label() if ev else "", source=hit.chunk.meta.short(),
                        quote=Claim(row.fragments, row.chunk_id).text)

    rows = tuple(r for r in map(cite_row, findings.rows) if r is not None)
    conflicts = []
    for conflict in findings.conflicts:
        sides = [cite_row(r) for r in conflict.rows]
        if all(sides) and len(sides) >= 2:
            conflicts.append(CitedConflict(topic=conflict.topic, rows=tuple(s for s in sides if s)))
    return replace(cited, citations=numbering.citations(), outcomes=rows, conflicts=tuple(conflicts))
