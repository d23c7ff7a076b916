"""Extractive composer: the answer is made of sentences of the retrieved passages, nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.drugs import expand_query
from qa.embed import Embedder
from qa.retrieve import Retrieval, lexical_text, tokenize
from qa.textparse import list_parts, statements, strip_ref_markers
from qa.types import Chunk, Claim, Draft

QUANTITY_Q = re.compile(
    r"\b(?:how many|how much|what (?:percentage|proportion|share|rate|number)|rate|percent|"
    r"proportion|outcomes?|results?|response|remission|n\b|dose|weeks?|months?|score|сколько|cu[aá]nt)",
    re.IGNORECASE,
)
HAS_NUMBER = re.compile(r"\d")
# An evidence sentence must score at least this share of the direct answer's score; lower
# values add tangential sentences (measured on the end-to-end questions: 0.7 keeps every fact).
EVIDENCE_FLOOR = 0.7

# Time points: '12 weeks', '52-week', '12- and 52-week', 'year 1', 'years 1 and 4' (units also
# in Spanish and Russian, the other languages clinicians ask in: '52 semanas', '52 недели').
_TIME_PHRASE = re.compile(
    r"\d{1,3}(?:\.\d+)?(?:\s*-?\s*(?:,|and|or|to|–)\s*\d{1,3}(?:\.\d+)?)*\s*-?\s*"
    r"(?:weeks?|wks?|months?|years?|semanas?|mes(?:es)?|años?|недел\w*|месяц\w*|год\w*|лет)\b"
    r"|\b(?:weeks?|months?|years?)\s+\d{1,3}(?:\s*(?:,|and|or)\s*\d{1,3}(?![\d.%]))*",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
# Bonus for a sentence stating a time point the question names: for "What were the 12- and
# 52-week outcomes?" the 12- and 52-week results come before general advice. Only time points
# count; other numbers in a question ('patient 1', 'Knyazev 2025') name things, not results.
TIME_POINT_BONUS = 0.06


def time_points(text: str) -> set[str]:
    """The numbers of the time points a text names: '12- and 52-week outcomes' -> {'12', '52'}."""
    return {n for m in _TIME_PHRASE.finditer(text) for n in _DIGITS.findall(m.group(0))}


@dataclass(frozen=True)
class Unit:
    """A candidate answer sentence: verbatim fragments of one chunk."""

    fragments: tuple[str, ...]
    chunk: Chunk
    rank: int  # rank of its chunk in retrieval
    position: int  # order inside the chunk
    context: str = ""  # the sentence before it, embedded with it (not quoted)

    @property
    def text(self) -> str:
        return Claim(self.fragments, self.chunk.id).text

    @property
    def embed_text(self) -> str:
        return f"{self.context} {self.text}".strip()


def units_of(chunk: Chunk, rank: int) -> list[Unit]:
    """Split a chunk into sentences; a list item keeps its lead-in as context."""
    if chunk.kind in ("reference", "author"):
        return [Unit((chunk.text,), chunk, rank, 0)]
    if chunk.kind == "list":
        lead, raw_items = list_parts(chunk.text)
        lead = strip_ref_markers(lead).strip()
        items = [item.strip() for item in raw_items]
        units = [Unit((lead,), chunk, rank, 0)] if lead and not lead.endswith(":") else []
        for i, item in enumerate(items, start=1):
            frags = (lead, strip_ref_markers(item)) if lead else (strip_ref_markers(item),)
            units.append(Unit(frags, chunk, rank, i))
        return units
    sentences = [strip_ref_markers(s).strip() for s in statements(chunk.text)]
    # A sentence is embedded with the one before it, so "After 26 weeks of combination therapy,
    # all patients ..." is still about the drugs its predecessor named.
    return [
        Unit((s,), chunk, rank, i, context=sentences[i - 1] if i else "")
        for i, s in enumerate(sentences)
        if len(s) > 3
    ]


class ExtractiveComposer:
    """Scores every sentence of the retrieved passages against the question and picks the best."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int,
        min_sentence_score: float,
        min_relevance: float,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.min_sentence_score = min_sentence_score
        self.min_relevance = min_relevance
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self.embedder.embed(missing)):
                self._cache[t] = v
            if len(self._cache) > 50_000:  # bound memory on long-running servers
                self._cache.clear()
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    def compose(self, question: str, retrieval: Retrieval) -> Draft:
        """Pick, de-duplicate and order sentences; abstain when nothing retrieved is relevant."""
        q_terms = set(tokenize(expand_query(question)))
        if not retrieval.hits:
            return Draft(claims=(), abstained=True, reason="nothing retrieved")
        # Terms of each passage with its title, authors and section: tokenised once per answer.
        chunk_terms = {h.chunk.id: set(tokenize(lexical_text(h.chunk))) for h in retrieval.hits}
        coverage = max(_share(q_terms, terms) for terms in chunk_terms.values())
        # Short keyword queries ('Miyatani 2024') embed poorly; an exact lexical match vouches for them.
        relevance = retrieval.best_dense + coverage
        if relevance < self.min_relevance:
            return Draft(claims=(), abstained=True,
                         reason=f"relevance {relevance:.2f} (similarity {retrieval.best_dense:.2f} + term "
                                f"coverage {coverage:.2f}) is below {self.min_relevance:.2f}")
        units = [u for rank, h in enumerate(retrieval.hits) for u in units_of(h.chunk, rank)]
        if not units:
            return Draft(claims=(), abstained=True, reason="no sentences in the retrieved passages")
        wants_numbers = bool(QUANTITY_Q.search(question))
        q_times = time_points(question)
        vecs = self._vectors([u.embed_text for u in units])
        dense = vecs @ retrieval.query_vector
        scores: list[float] = []
        for u, d in zip(units, dense):
            terms = set(tokenize(u.text))
            overlap = _share(q_terms, terms)
            ctx_overlap = _share(q_terms, chunk_terms[u.chunk.id] | terms)
            score = 0.55 * float(d) + 0.30 * overlap + 0.10 * ctx_overlap + 0.05 / (1 + u.rank)
            if wants_numbers and HAS_NUMBER.search(u.text):
                score += 0.08
            if q_times and q_times & time_points(u.text):
                score += TIME_POINT_BONUS
            scores.append(score)
        order = sorted(range(len(units)), key=lambda i: -scores[i])
        best = scores[order[0]]
        if best < self.min_sentence_score:
            return Draft(claims=(), abstained=True,
                         reason=f"no sentence answers the question (best score {best:.2f})")
        floor = max(self.min_sentence_score, EVIDENCE_FLOOR * best)
        chosen: list[int] = []
        for i in order:
            if scores[i] < floor or len(chosen) >= self.max_sentences:
                break
            if any(_jaccard(units[i].text, units[j].text) > 0.6 for j in chosen):
                continue  # redundant with a sentence already in the answer
            chosen.append(i)
        # Direct answer first, then the evidence in source order.
        head, rest = chosen[0], sorted(chosen[1:], key=lambda i: (units[i].rank, units[i].position))
        claims = tuple(
            Claim(fragments=units[i].fragments, chunk_id=units[i].chunk.id, score=scores[i]) for i in [head, *rest]
        )
        return Draft(claims=claims, abstained=False)


def _share(q_terms: set[str], terms: set[str]) -> float:
    """Share of the question's terms found in `terms`."""
    return len(q_terms & terms) / len(q_terms) if q_terms else 0.0


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0
