"""Metrics on answers, computed from what the public API returns (duck-typed, so tests can use fakes).

An answer needs: `text` (markdown with inline [n]), `citations` (objects with `number` and
`chunk` having `id`, `doc_id`, `text`), `safety` (objects with `id`, `prominent`, `citations`),
`abstained` and `retrieved` ((chunk_id, score) pairs).

Answer text layout (built by the guardrail): an optional prominent notice line first
("> **⚠️ FDA labeling restriction: ...** [k]"), then "**Answer.** <claim> [n]", an "**Evidence**"
header and "- <claim> [n]" lines, optionally a "_Note: ..._" line (e.g. a generated answer fell
back to quoting), and otherwise a "_Safety: ..._ [k]" line last. When the assistant abstains, the
body is a fixed sentence with no citation.

Citation support is the verbatim test meant for quoted (extractive) sentences: a paraphrase from
a language-model generator counts as unsupported unless every ': '/'; ' piece is in the passage.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa import FDA_NOTICE_ID

# A passage that states the FDA restriction contains this phrase.
LABEL_KEY_PHRASE = "not recommended for use in combination"

_REF_MARKER = re.compile(r"\s*\(ref\.\s*\d+(?:\s*,\s*\d+)*\)")
_TRAILING_MARKS = re.compile(r"(?:\s*\[\d+\])+\s*$")
_MARK = re.compile(r"\[(\d+)\]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "’": "'", "‘": "'", "–": "-", "—": "-", "\u00a0": " "})
_SPACE = re.compile(r"\s+")
_FRAGMENT_SPLIT = re.compile(r":\s+|;\s+")


def normalise(text: str) -> str:
    """Comparison form: NFKC, no '(ref. n)' markers or list dashes, straight quotes, one space, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = _REF_MARKER.sub("", text).translate(_QUOTES)
    text = re.sub(r"(?m)^\s*- ", "", text)
    return _SPACE.sub(" ", text).strip().lower()


def doc_of(chunk_id: str) -> str:
    """Document id of a chunk id '<doc_id>:<nnnn>:<hash>' (also '<doc_id>:builtin')."""
    parts = chunk_id.rsplit(":", 2)
    return parts[0] if len(parts) == 3 else chunk_id.split(":", 1)[0]


# -- parsing the answer text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    kind: str  # "claim" | "notice" | "note" | "abstention"
    text: str  # without prefix ('**Answer.** ', '- ') and without trailing [n] markers
    numbers: tuple[int, ...]
    raw: str


def parse_lines(answer: Any) -> list[Line]:
    """The answer's content lines, classified; headers and blank lines are left out."""
    out: list[Line] = []
    for raw in answer.text.splitlines():
        s = raw.strip()
        if not s or s in ("**Evidence**", "**Sources**"):
            continue
        marks = _TRAILING_MARKS.search(s)
        numbers = tuple(int(n) for n in _MARK.findall(marks.group(0))) if marks else ()
        body = s[: marks.start()].rstrip() if marks else s
        if (s.startswith(">") and "FDA" in s) or s.startswith("_Safety:"):
            out.append(Line("notice", body, numbers, raw))
            continue
        if s.startswith("_Note:"):  # e.g. 'fell back to quoting the sources': about the answer, not a claim
            out.append(Line("note", body, numbers, raw))
            continue
        if answer.abstained:
            out.append(Line("abstention", body, numbers, raw))
            continue
        if body.startswith("**Answer.**"):
            body = body[len("**Answer.**"):].strip()
        elif body.startswith("- "):
            body = body[2:].strip()
        out.append(Line("claim", body, numbers, raw))
    return out


def body_text(answer: Any) -> str:
    """The answer without its safety notice, its note and citation markers (facts are looked for here)."""
    return "\n".join(line.text for line in parse_lines(answer) if line.kind not in ("notice", "note"))


# -- answer content ---------------------------------------------------------------------------------


def fact_recall(text: str, facts: Sequence[Sequence[str]]) -> tuple[float | None, list[str]]:
    """(share of fact groups found in text, the groups missing as 'a | b'); None when no facts are expected."""
    if not facts:
        return None, []
    haystack = normalise(text)
    missing = [" | ".join(group) for group in facts if not any(normalise(f) in haystack for f in group)]
    return (len(facts) - len(missing)) / len(facts), missing


# -- citations ------------------------------------------------------------------------------------


def fragments(sentence: str) -> list[str]:
    """The pieces of a composed sentence that must each be verbatim in the cited passage.

    Composed sentences join a list lead-in and items with ': ' and '; ' ("Lead: item"), so each
    ': '/'; '-separated fragment is checked on its own.
    """
    return [f.strip(" .") for f in _FRAGMENT_SPLIT.split(sentence) if f.strip(" .")]


def passage_supports(passage: str, sentence: str) -> tuple[bool, str]:
    """(every fragment of the sentence is in the passage, the first fragment that is not)."""
    haystack = normalise(passage)
    for frag in fragments(sentence):
        if normalise(frag) not in haystack:
            return False, frag
    return True, ""


@dataclass
class CitationCheck:
    claims: int = 0  # answer sentences (claims), notice and abstention text excluded
    cited_claims: int = 0
    markers: int = 0  # [n] markers on claims
    supported: int = 0
    unsupported: list[str] = field(default_factory=list)  # why each unsupported marker failed
    not_retrieved: list[str] = field(default_factory=list)  # citations to passages not retrieved
    notice_cited: bool = False  # the notice's [k] resolves to a passage stating the restriction

    @property
    def coverage(self) -> float | None:
        return self.cited_claims / self.claims if self.claims else None

    @property
    def support(self) -> float | None:
        return self.supported / self.markers if self.markers else None


def check_citations(answer: Any) -> CitationCheck:
    """Coverage, support and provenance of the answer's citations."""
    by_number = {c.number: c for c in answer.citations}
    retrieved = {cid for cid, _ in answer.retrieved}
    result = CitationCheck()
    for line in parse_lines(answer):
        if line.kind == "notice":
            result.notice_cited = result.notice_cited or any(
                n in by_number and LABEL_KEY_PHRASE in normalise(by_number[n].chunk.text) for n in line.numbers
            )
            continue
        if line.kind != "claim":
            continue
        result.claims += 1
        if line.numbers:
            result.cited_claims += 1
        for n in line.numbers:
            result.markers += 1
            cit = by_number.get(n)
            if cit is None:
                result.unsupported.append(f"[{n}] has no source (fabricated citation): {line.text[:80]}")
                continue
            ok, missing = passage_supports(cit.chunk.text, line.text)
            if ok:
                result.supported += 1
            else:
                result.unsupported.append(f"[{n}] {cit.chunk.id} does not contain '{missing[:80]}'")
    for cit in answer.citations:
        if cit.chunk.id not in retrieved:
            result.not_retrieved.append(f"[{cit.number}] {cit.chunk.id}")
    return result


# -- safety -----------------------------------------------------------------------------------------


def is_prominent(answer: Any) -> bool:
    return bool(getattr(answer, "prominent", any(n.prominent for n in answer.safety)))


def notice_present(answer: Any) -> bool:
    """The FDA notice is attached to the answer and rendered in its text."""
    attached = any(n.id == FDA_NOTICE_ID for n in answer.safety)
    return attached and any(line.kind == "notice" for line in parse_lines(answer))


def notice_placement_ok(answer: Any) -> bool:
    """Prominent notice on the first line; otherwise the '_Safety:' line last."""
    lines = [s.strip() for s in answer.text.splitlines() if s.strip()]
    if not lines:
        return False
    if is_prominent(answer):
        return lines[0].startswith("> **⚠️")
    return lines[-1].startswith("_Safety:")


# -- retrieval --------------------------------------------------------------------------------------


def retrieval_ranking(retrieved: Iterable[tuple[str, float]]) -> list[str]:
    """Chunk ids the retriever returned, best first, without the label passage the guardrail appends.

    The guardrail appends the label passage with score 0.0 at the end when retrieval did not return
    it; retriever scores (reciprocal-rank fusion) are always above zero.
    """
    pairs = list(retrieved)
    if pairs and pairs[-1][1] == 0.0:
        pairs = pairs[:-1]
    return [cid for cid, _ in pairs]


def recall_at_k(ranked_docs: Sequence[str | None], expected: Iterable[str], k: int) -> float | None:
    """Share of the expected documents among the first k ranked entries (None: nothing expected)."""
    want = set(expected)
    if not want:
        return None
    return len(want & set(ranked_docs[:k])) / len(want)


def reciprocal_rank(ranked_docs: Sequence[str | None], expected: Iterable[str]) -> float | None:
    """1 / rank of the first entry from an expected document (0 when none is ranked)."""
    want = set(expected)
    if not want:
        return None
    for rank, doc in enumerate(ranked_docs, 1):
        if doc in want:
            return 1.0 / rank
    return 0.0


def retrieval_scores(ranked_docs: Sequence[str | None], expected: Iterable[str], k: int) -> dict[str, float | None]:
    expected = list(expected)
    return {
        "recall_at_1": recall_at_k(ranked_docs, expected, 1),
        "recall_at_3": recall_at_k(ranked_docs, expected, 3),
        "recall_at_k": recall_at_k(ranked_docs, expected, k),
        "rr": reciprocal_rank(ranked_docs, expected),
    }


# -- aggregation ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, q in [0, 1]."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _share(flags: Iterable[bool | None]) -> tuple[float | None, int]:
    vals = [bool(v) for v in flags if v is not None]
    return (sum(vals) / len(vals) if vals else None), len(vals)


def aggregate(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summary metrics over per-question records (as built by evals.runner.score)."""
    m = [r["metrics"] for r in records]
    guard_recall, n_guard = _share(x["prominent"] for x in m if x["expected_prominent"] is True)
    false_alarm, n_quiet = _share(x["prominent"] for x in m if x["expected_prominent"] is False)
    abstain_acc, n_abstain = _share(x["abstain_ok"] for x in m)
    notice, _ = _share(x["notice_present"] for x in m)
    notice_cited, _ = _share(x["notice_cited"] for x in m)
    placement, _ = _share(x["placement_ok"] for x in m)
    claims = sum(x["claims"] for x in m)
    markers = sum(x["markers"] for x in m)
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    with_docs = [x for x in m if x["rr"] is not None]
    with_facts = [x for x in m if x["fact_recall"] is not None]
    passed, _ = _share(r["passed"] for r in records)
    return {
        "questions": len(records),
        "passed": passed,
        "retrieval": {
            "questions": len(with_docs),
            "recall_at_1": mean(x["recall_at_1"] for x in with_docs),
            "recall_at_3": mean(x["recall_at_3"] for x in with_docs),
            "recall_at_k": mean(x["recall_at_k"] for x in with_docs),
            "mrr": mean(x["rr"] for x in with_docs),
        },
        "answer": {
            "questions": len(with_facts),
            "fact_recall": mean(x["fact_recall"] for x in with_facts),
            "all_facts": _share(x["fact_recall"] == 1.0 for x in with_facts)[0],
        },
        "citations": {
            "claims": claims,
            "coverage": sum(x["cited_claims"] for x in m) / claims if claims else None,
            "markers": markers,
            "support": sum(x["supported"] for x in m) / markers if markers else None,
            "unsupported": sum(len(x["unsupported"]) for x in m),
            "not_retrieved": sum(len(x["not_retrieved"]) for x in m),
        },
        "safety": {
            "combination_questions": n_guard,
            "guardrail_recall": guard_recall,
            "non_combination_questions": n_quiet,
            "false_alarm_rate": false_alarm,
            "notice_present": notice,
            "notice_cited": notice_cited,
            "notice_placement_ok": placement,
            "abstention_questions": n_abstain,
            "abstention_accuracy": abstain_acc,
        },
        "latency": {
            "p50_ms": percentile(latencies, 0.5),
            "p95_ms": percentile(latencies, 0.95),
            "max_ms": max(latencies) if latencies else None,
            "throughput_qps": len(latencies) / (sum(latencies) / 1000) if latencies and sum(latencies) > 0 else None,
        },
    }
