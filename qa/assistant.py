"""The pipeline: retrieve -> compose -> verify citations -> guardrail -> Answer."""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from qa import guardrail
from qa.cite import add_findings, verify
from qa.compose import ExtractiveComposer
from qa.config import Settings
from qa.corpus import load_corpus
from qa.embed import Embedder, make_embedder
from qa.generate import GenerationReport, GenerativeComposer, as_chat_model, make_chat_model
from qa.index import VectorIndex, check_index
from qa.outcomes import Tabulator
from qa.retrieve import HybridRetriever, Retrieval, tokenize
from qa.types import Answer, CitedDraft, QAError

ABSTAIN_TEXT = (
    "The corpus does not cover this question, so no answer is given. The indexed sources are about "
    "therapy of Crohn's disease (upadacitinib, biologics and their combination); try a question on that."
)
FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|what about|how about|and what about|what if|then|same|и|а|y|¿y|e)\b|"
    r"\b(?:it|that|this|those|these|them|they|same)\b",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_TAG = re.compile(r"<[^>]{0,200}>")

History = Iterable[Mapping[str, Any] | tuple[str, str]]


def clean_question(question: object, *, max_chars: int) -> str:
    """Normalise a question or raise a QAError that says what is wrong with it."""
    if isinstance(question, (bytes, bytearray)):
        try:
            question = bytes(question).decode("utf-8")
        except UnicodeDecodeError:
            raise QAError("The question is binary data, not text; type the question as text") from None
    if not isinstance(question, str):
        raise QAError(f"The question must be text, not {type(question).__name__}")
    if len(question) > max_chars * 4:
        raise QAError(f"The question is {len(question):,} characters; the limit is {max_chars:,} "
                      "(setting QA_MAX_QUESTION_CHARS). Ask a shorter question.")
    text = unicodedata.normalize("NFKC", question)
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    if text and printable / len(text) < 0.7:
        raise QAError("The question is mostly control or binary characters; type the question as text")
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if not text:
        raise QAError("The question is empty; ask about therapy of Crohn's disease, e.g. "
                      "'Can upadacitinib be combined with ustekinumab?'")
    if len(text) > max_chars:
        raise QAError(f"The question is {len(text):,} characters; the limit is {max_chars:,} "
                      "(setting QA_MAX_QUESTION_CHARS). Ask a shorter question.")
    return text


def _user_turns(history: History | None) -> list[str]:
    turns: list[str] = []
    for item in history or ():
        if isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
        else:
            role, content = item
        if role == "user" and isinstance(content, str) and content.strip():
            turns.append(" ".join(content.split()))
    return turns


def retrieval_query(question: str, history: History | None) -> tuple[str, str]:
    """(query, context): a follow-up ('and at 52 weeks?') is read with the previous question."""
    previous = _user_turns(history)
    if not previous:
        return question, ""
    context = previous[-1]
    content = [t for t in tokenize(question) if not t.isdigit()]
    if FOLLOW_UP.search(question) or len(content) < 3:
        return f"{context} {question}", context
    return question, context


@dataclass(frozen=True)
class Replay:
    """A recorded answer asked again: what differs now, in the answer and in what produced it."""

    answer: Answer
    differences: tuple[str, ...]  # in the answer itself (text, citations, retrieval, ...)
    changed: tuple[str, ...]  # in the audit record (corpus, index, embedder, settings, generator)

    @property
    def reproduced(self) -> bool:
        return not self.differences


# What `replay` compares: answer fields, and the audit fields that explain a difference.
_REPLAYED = ("text", "abstained", "off_label", "generator")
_AUDITED = ("corpus_digest", "index_fingerprint", "embedder", "settings_hash")


@dataclass(frozen=True)
class Status:
    """What is loaded: shown in the chat's status line and by `qa status`."""

    documents: int
    chunks: int
    embedder: str
    generator: str
    index_path: str
    built_at: str
    problems: tuple[str, ...]

    def line(self) -> str:
        return (f"{self.documents} documents, {self.chunks} chunks · embedder {self.embedder} · "
                f"generator {self.generator} · index {self.index_path} (built {self.built_at})")


class Assistant:
    """Answers questions from the indexed corpus with verified citations and the FDA guardrail."""

    def __init__(self, *, settings: Settings, index: VectorIndex, embedder: Embedder, llm: Any = None) -> None:
        """`llm`: a chat model for generated answers (an object with `name` and `stream(messages)`,
        or a llama-index LLM); default: the one `settings.generator` names (none for 'extractive')."""
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = HybridRetriever(index, embedder, settings)
        self.extractive = ExtractiveComposer(
            embedder,
            max_sentences=settings.max_answer_sentences,
            min_sentence_score=settings.min_sentence_score,
            min_relevance=settings.min_relevance,
        )
        model = as_chat_model(llm) if llm is not None else make_chat_model(settings)
        self.generative = None if model is None else GenerativeComposer(
            model, self.extractive, max_sentences=settings.max_answer_sentences, timeout_s=settings.llm_timeout_s,
        )
        self.composer: ExtractiveComposer | GenerativeComposer = self.generative or self.extractive
        self.last_generation: GenerationReport | None = None  # what the model did for the latest answer
        self.tabulator = Tabulator(index.chunks)
        self.label_chunk = guardrail.find_label_chunk(index.chunks)
        m = index.manifest
        # What an answer needs to be reproduced: the exact corpus, index and settings behind it.
        self.audit = {
            "corpus_digest": m.get("corpus_digest", ""),
            "index_fingerprint": m.get("fingerprint", ""),
            "index_built_at": m.get("built_at", ""),
            "embedder": m.get("embedder", ""),
            "settings_hash": settings.answer_fingerprint(),
        }

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        progress: Callable[[int, int], None] | None = None,
        llm: Any = None,
    ) -> Assistant:
        """Open the index for the corpus; build it when missing or stale (if settings allow)."""
        settings = settings or Settings()
        embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
        status = check_index(settings)
        if status.state != "ok":
            if not settings.auto_rebuild:
                raise QAError(f"{status.reason}; run 'qa index' to build it")
            index = VectorIndex.build(settings, embedder, corpus=load_corpus(settings.corpus_dir), progress=progress)
        else:
            index = VectorIndex.load(settings, embedder)
        return cls(settings=settings, index=index, embedder=embedder, llm=llm)

    def status(self) -> Status:
        m = self.index.manifest
        return Status(
            documents=len(m.get("documents", [])), chunks=len(self.index.chunks), embedder=m.get("embedder", "?"),
            generator=self.composer.name, index_path=str(self.settings.index_dir), built_at=m.get("built_at", "?"),
            problems=tuple(m.get("problems", [])),
        )

    def ask(self, question: object, history: History | None = None) -> Answer:
        """Answer one question; `history` is the chat so far ([{'role','content'}, ...])."""
        answer = None
        for answer in self._answers(question, history, parts=False):
            pass
        assert answer is not None
        return answer

    def ask_stream(self, question: object, history: History | None = None) -> Iterator[Answer]:
        """The answer as it grows: each yielded Answer is complete and guarded (FDA notice
        included, first when prominent) and replaces the previous one; the last is the final answer
        (what `ask` returns). Only verified sentences are ever in a yielded Answer.

        With the extractive generator the sentences are known at once and the parts grow a
        sentence at a time. With a language model a part is yielded each time a generated
        sentence passes the citation check; when too little passes, the final Answer is the
        extractive one with a note saying so (it replaces what was shown). Once a part had the
        notice first, every later part has it first too. Errors in the question raise QAError
        before anything is yielded.
        """
        return self._answers(question, history, parts=True)

    def replay(self, record: Mapping[str, Any]) -> Replay:
        """Ask a recorded answer's question again (with the same previous question, if any) and
        compare: `record` is `Answer.to_dict()`, e.g. the chat's JSON download or `qa ask --json`.
        Used to reproduce an answer and as a regression test after a corpus, index or code change."""
        if not isinstance(record, Mapping) or not isinstance(record.get("question"), str):
            raise QAError("Not an answer record: expected the JSON of Answer.to_dict() (from 'qa ask --json' "
                          "or the chat's download), with at least 'question', 'text' and 'audit'")
        audit = record.get("audit") or {}
        context = audit.get("context") or ""
        history = [{"role": "user", "content": context}] if context else None
        answer = self.ask(record["question"], history)
        now = answer.to_dict()
        differences = [_difference(key, record[key], now[key])
                       for key in _REPLAYED if key in record and record[key] != now[key]]
        for key, field_ in (("citations", "source_id"), ("retrieved", "chunk_id")):
            before = [item.get(field_) for item in record.get(key) or []]
            after = [item[field_] for item in now[key]]
            if key in record and before != after:
                differences.append(f"{key}: recorded {before}, now {after}")
        for key in ("outcomes", "conflicts"):
            if key in record and record[key] != now[key]:
                differences.append(f"{key}: recorded {len(record[key])} rows, now {len(now[key])} (or changed)")
        changed = [f"{key}: recorded {audit.get(key)!r}, now {answer.audit.get(key)!r}"
                   for key in _AUDITED if audit.get(key) != answer.audit.get(key)]
        return Replay(answer=answer, differences=tuple(differences), changed=tuple(changed))

    def _answers(self, question: object, history: History | None, *, parts: bool) -> Iterator[Answer]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        query, context = retrieval_query(_TAG.sub(" ", text), history)

        t = time.perf_counter()
        retrieval = self.retriever.retrieve(query)
        timings["retrieve"] = (time.perf_counter() - t) * 1000

        if self.generative is None:
            t = time.perf_counter()
            draft = self.extractive.compose(query, retrieval)
            findings = self.tabulator.find(query, retrieval.hits, " ".join(c.text for c in draft.claims))
            timings["compose"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            cited = verify(draft, retrieval.hits, findings)
            timings["verify"] = (time.perf_counter() - t) * 1000
            final = self._guard(text, context, cited, retrieval, timings, t0)
            for k in range(1, len(cited.sentences) if parts else 0):
                yield self._guard(text, context, _prefix(cited, k), retrieval, dict(timings), t0,
                                  force_prominent=final.prominent)
            yield final
            return

        t = time.perf_counter()
        prominent = False
        self.last_generation = None
        for step in self.generative.steps(_TAG.sub(" ", text), retrieval, context=context, query=query):
            if not step.final:
                if not parts:
                    continue
                part = self._guard(text, context, step.draft, retrieval, dict(timings), t0, force_prominent=prominent)
                prominent = prominent or part.prominent
                yield part
                continue
            timings["generate"] = (time.perf_counter() - t) * 1000
            self.last_generation = step.report
            said = " ".join(s.text for s in step.draft.sentences)
            cited = add_findings(step.draft, self.tabulator.find(query, retrieval.hits, said), retrieval.hits)
            yield self._guard(text, context, cited, retrieval, timings, t0, force_prominent=prominent)

    def _guard(
        self, question: str, context: str, cited: CitedDraft, retrieval: Retrieval, timings: dict[str, float],
        t0: float, *, force_prominent: bool = False,
    ) -> Answer:
        t = time.perf_counter()
        answer = guardrail.apply(
            question=question, context=context, draft=cited, label_chunk=self.label_chunk,
            abstain_text=ABSTAIN_TEXT, timings_ms=timings,
            retrieved=tuple((h.chunk.id, h.score) for h in retrieval.hits),
            force_prominent=force_prominent, generator=self.composer.name, audit={**self.audit, "context": context},
        )
        timings["guardrail"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return answer


def _difference(key: str, before: Any, after: Any) -> str:
    """One line: the first differing line of two texts, or both values."""
    if isinstance(before, str) and isinstance(after, str) and "\n" in before + after:
        lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        changed = [ln for ln in lines if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        return f"{key}: " + " | ".join(ln[:160] for ln in changed[:4]) + (" | ..." if len(changed) > 4 else "")
    return f"{key}: recorded {before!r}, now {after!r}"


def _prefix(cited: CitedDraft, k: int) -> CitedDraft:
    """The first k sentences of a verified draft, with only the citations they use (numbers kept)."""
    sentences = cited.sentences[:k]
    used = {n for s in sentences for n in s.numbers}
    return replace(cited, sentences=sentences, citations=tuple(c for c in cited.citations if c.number in used),
                   note="", outcomes=(), conflicts=())
