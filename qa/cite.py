"""Number the citations and verify each one against the passage it points to."""

from __future__ import annotations

import re

from qa.textparse import strip_ref_markers
from qa.types import Citation, CitedDraft, CitedSentence, Draft, Hit

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "’": "'", "‘": "'", "–": "-", "—": "-"})


def normalise(text: str) -> str:
    """Comparison form: no '(ref. n)' markers, no list dashes, straight quotes, single spaces, lower case."""
    text = strip_ref_markers(text).translate(_QUOTES)
    text = re.sub(r"(?m)^- ", "", text)
    return _SPACE.sub(" ", text).strip().lower()


def supports(passage: str, fragment: str) -> bool:
    """True when the fragment is verbatim (after normalisation) in the passage."""
    frag = normalise(fragment)
    return bool(frag) and frag in normalise(passage)


def verify(draft: Draft, hits: tuple[Hit, ...]) -> CitedDraft:
    """Keep the claims whose every fragment is in a retrieved passage; number sources in first-use order."""
    by_id = {h.chunk.id: h for h in hits}
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    sentences: list[CitedSentence] = []
    dropped = 0
    for claim in draft.claims:
        hit = by_id.get(claim.chunk_id)
        if hit is None or not all(supports(hit.chunk.text, f) for f in claim.fragments if f):
            dropped += 1  # cites something not retrieved, or text not in the passage
            continue
        if claim.chunk_id not in numbers:
            numbers[claim.chunk_id] = len(citations) + 1
            citations.append(Citation(number=numbers[claim.chunk_id], chunk=hit.chunk, score=hit.score))
        sentences.append(CitedSentence(text=claim.text, numbers=(numbers[claim.chunk_id],)))
    abstained = draft.abstained or not sentences
    reason = draft.reason or ("no claim survived citation checks" if abstained else "")
    return CitedDraft(
        sentences=tuple(sentences), citations=tuple(citations), abstained=abstained, dropped=dropped, reason=reason,
    )
