"""Number the citations and verify each one against the passage it points to."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.retrieve import fold, tokenize
from qa.textparse import split_sentences, strip_ref_markers
from qa.types import Citation, CitedDraft, CitedSentence, Claim, Draft, Hit

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


def verify(draft: Draft, hits: tuple[Hit, ...]) -> CitedDraft:
    """Keep the claims their cited passages support; number sources in first-use order.

    Quoted claims need every fragment verbatim in their passage (`supports`); generated ones
    (`quoted=False`) need `supports_paraphrase` from the passages they cite, and keep only the
    citations that are needed. Claims citing nothing that was retrieved are dropped.
    """
    by_id = {h.chunk.id: h for h in hits}
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    sentences: list[CitedSentence] = []
    dropped = 0
    for claim in draft.claims:
        support = _supporting(claim, by_id)
        if not support:
            dropped += 1  # cites something not retrieved, or text its passage does not hold
            continue
        for hit in support:
            if hit.chunk.id not in numbers:
                numbers[hit.chunk.id] = len(citations) + 1
                citations.append(Citation(number=numbers[hit.chunk.id], chunk=hit.chunk, score=hit.score))
        sentences.append(CitedSentence(text=claim.text, numbers=tuple(numbers[h.chunk.id] for h in support)))
    abstained = draft.abstained or not sentences
    reason = draft.reason or ("no claim survived citation checks" if abstained else "")
    return CitedDraft(
        sentences=tuple(sentences), citations=tuple(citations), abstained=abstained, dropped=dropped, reason=reason,
    )
