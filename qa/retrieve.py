"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from nltk.stem.porter import PorterStemmer

from qa.config import Settings
from qa.drugs import expand_query
from qa.embed import Embedder
from qa.index import VectorIndex
from qa.types import Chunk, Hit

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its may me might my no not of on or our should so than that the their them then there
    these they this those to was were what when where which who whom why will with would you your
    about after any all also am being both each few more most other same some such only own very
    just over under again further once here s t don now tell please give show list patients patient
    и в во на с со по к о об от для что как это ли а но или не да же у из за при до
    el la los las de del y o en con por para que se un una es son al lo como""".split()
)
_PORTER = PorterStemmer()
_WORD = re.compile(r"\d+(?:[.,]\d+)?%|\d+/\d+|[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case, NFKC, Latin accents removed (Cyrillic kept)."""
    text = unicodedata.normalize("NFKC", text).lower()
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@functools.lru_cache(maxsize=200_000)
def _stem(tok: str) -> str:
    """Porter stem for Latin-script words ('developed', 'development' -> 'develop')."""
    if tok.isdigit() or len(tok) <= 3 or not tok.isascii():
        return tok
    return _PORTER.stem(tok)


def tokenize(text: str) -> list[str]:
    """Content tokens for BM25: words, numbers, '24/27' and '89%' (also split into parts)."""
    out: list[str] = []
    for tok in _WORD.findall(fold(text)):
        if tok in STOPWORDS:
            continue
        if "/" in tok or tok.endswith("%"):
            out.append(tok)
            out.extend(t for t in re.split(r"[/%]", tok) if t)
            continue
        out.append(_stem(tok))
    return out


class BM25:
    """Okapi BM25 over a fixed list of texts, with postings for sparse scoring."""

    def __init__(self, texts: list[str], *, k1: float = 1.4, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n = len(texts)
        self.lengths = np.zeros(self.n, dtype=np.float32)
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, text in enumerate(texts):
            toks = tokenize(text)
            self.lengths[i] = len(toks)
            for tok, tf in Counter(toks).items():
                postings.setdefault(tok, []).append((i, tf))
        self.avgdl = float(self.lengths.mean()) if self.n else 0.0
        self.postings = {
            t: (np.array([d for d, _ in p], dtype=np.int64), np.array([f for _, f in p], dtype=np.float32))
            for t, p in postings.items()
        }

    def idf(self, tok: str) -> float:
        df = len(self.postings[tok][0]) if tok in self.postings else 0
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        if not self.n:
            return out
        norm = self.k1 * (1 - self.b + self.b * self.lengths / max(self.avgdl, 1e-9))
        for tok in set(query_tokens):
            if tok not in self.postings:
                continue
            docs, tfs = self.postings[tok]
            out[docs] += self.idf(tok) * tfs * (self.k1 + 1) / (tfs + norm[docs])
        return out

    def top(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        s = self.scores(query_tokens)
        if not np.any(s > 0):
            return []
        k = min(k, int(np.count_nonzero(s)))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx]


def lexical_text(chunk: Chunk) -> str:
    """What BM25 sees: the chunk with its document title, authors, year and section."""
    m = chunk.meta
    return " ".join([m.title, " ".join(m.authors), str(m.year or ""), chunk.section, chunk.text])


def _diverse(ranked: list[str], index: VectorIndex, k: int, per_doc: int) -> list[str]:
    """Top k, at most per_doc from one document while other documents have candidates.

    One long document must not crowd out a shorter one that answers the question.
    """
    chosen: list[str] = []
    counts: dict[str, int] = {}
    overflow: list[str] = []
    for cid in ranked:
        doc = index.chunk(cid).doc_id
        if counts.get(doc, 0) < per_doc:
            chosen.append(cid)
            counts[doc] = counts.get(doc, 0) + 1
        else:
            overflow.append(cid)
        if len(chosen) == k:
            return chosen
    return [cid for cid in ranked if cid in set(chosen) | set(overflow[: k - len(chosen)])]


# Questions about whether the sources agree need a passage from each source, not the best four
# of one: they get half again as many passages, at most k/documents from any one document, and
# only passages in the sources' own words (a reference-list entry or an author record is not
# what a source reports).
ACROSS_SOURCES = re.compile(
    r"\b(?:agree\w*|disagree\w*|conflict\w*|contradict\w*|discrepan\w*|(?:in)?consistent|"
    r"(?:the|all|both|other|different)\s+(?:sources|studies|reports|papers|documents))\b",
    re.IGNORECASE,
)


def asks_across_sources(question: str) -> bool:
    """'Do the sources agree on ...?', 'Are the studies consistent?'"""
    return ACROSS_SOURCES.search(question) is not None


def _interleave(ranked: list[str], index: VectorIndex) -> list[str]:
    """Round robin over documents, each in its own rank order; documents by their best rank."""
    by_doc: dict[str, list[str]] = {}
    for cid in ranked:
        by_doc.setdefault(index.chunk(cid).doc_id, []).append(cid)
    rounds = max((len(v) for v in by_doc.values()), default=0)
    return [ids[i] for i in range(rounds) for ids in by_doc.values() if i < len(ids)]


@dataclass(frozen=True)
class Retrieval:
    hits: tuple[Hit, ...]
    query_vector: np.ndarray
    best_dense: float


class HybridRetriever:
    """Dense + BM25 candidates, fused by weighted reciprocal rank."""

    def __init__(self, index: VectorIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.bm25 = BM25([lexical_text(c) for c in index.chunks])
        self.documents = len({c.doc_id for c in index.chunks})

    def retrieve(self, query: str, *, k: int | None = None) -> Retrieval:
        s = self.settings
        k = k or s.top_k
        per_document = s.max_per_document
        across = asks_across_sources(query)
        if across:
            k += k // 2
            per_document = min(per_document, max(1, math.ceil(k / max(self.documents, 1))))
        vec = self.embedder.embed([query])[0]
        dense = self.index.search(vec, s.candidates_k)
        lexical = self.bm25.top(tokenize(expand_query(query)), s.candidates_k)
        fused: dict[str, float] = {}
        dense_score = {c.id: score for c, score in dense}
        lex_score = {self.index.chunks[i].id: score for i, score in lexical}
        for rank, (chunk, _) in enumerate(dense):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + s.dense_weight / (s.rrf_k + rank + 1)
        for rank, (i, _) in enumerate(lexical):
            cid = self.index.chunks[i].id
            fused[cid] = fused.get(cid, 0.0) + s.lexical_weight / (s.rrf_k + rank + 1)
        ranked = sorted(fused, key=lambda cid: -fused[cid])
        if across:
            ranked = [cid for cid in ranked if self.index.chunk(cid).kind not in ("reference", "author")] or ranked
        order = _diverse(ranked, self.index, k, per_document)
        if across:  # each source's best passage first, then each one's second best, ...
            order = _interleave(order, self.index)
        hits = tuple(
            Hit(chunk=self.index.chunk(cid), score=fused[cid], dense=dense_score.get(cid), lexical=lex_score.get(cid))
            for cid in order
        )
        best = max((score for _, score in dense), default=0.0)
        return Retrieval(hits=hits, query_vector=vec, best_dense=best)
