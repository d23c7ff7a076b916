"""Metrics on answers, computed from what the public API returns (duck-typed, so tests can use fakes).

An answer needs: `text` (markdown with inline [n]), `citations` (objects with `number` and
`chunk` having `id`, `doc_id`, `text`), `safety` (objects with `id`, `prominent`, `citations`),
`abstained` and `retrieved` ((chunk_id, score) pairs). Optional (read with defaults, so older
answers still score): `outcomes` (rows with `outcome`, `time_point`, `result`, `number`),
`conflicts` (objects with `topic` and `rows`) and `off_label`.

Answer text layout (built by the guardrail): an optional prominent notice first
("> **⚠️ FDA labeling restriction: ...** [k]", then for combination questions a ">" line and
"> **🚫 Off-label use.** ... [k]"), then "**Answer.** <claim> [n]", an "**Evidence**" header and
"- <claim> [n]" lines, optionally an "**Outcomes reported** ..." heading with a Markdown table
("| Outcome | Time point | Result | Source and evidence |", one row per outcome, markers inside
the cells, cell text backslash-escaped), optionally a "**Sources disagree**" heading with
"- On <topic>: ... [n]; ... [m]. ..." lines, optionally a "_Note: ..._" line (e.g. a generated
answer fell back to quoting), and otherwise a "_Safety: ..._ [k]" line last. When the assistant
abstains, the body is a fixed sentence with no citation.

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
_HEADING = re.compile(r"^\*\*[^*]+\*\*(?:\s*\([^)]*\))?$")  # '**Evidence**', '**Outcomes reported** (...)'
_TABLE_SEPARATOR = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
CONFLICT_HEADING = "**Sources disagree**"


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
    kind: str  # "claim" | "notice" | "note" | "abstention" | "row" | "conflict"
    text: str  # without prefix ('**Answer.** ', '- ') and without [n] markers (trailing; any, for rows and conflicts)
    numbers: tuple[int, ...]
    raw: str


def split_cells(row: str) -> list[tuple[str, tuple[int, ...]]]:
    """The cells of a Markdown table row as (text, citation numbers).

    Cell text is backslash-escaped ('\\|', '\\[', '\\*' ...): escaped characters are kept as
    plain text, and only an unescaped '[n]' is a citation marker.
    """
    s = row.strip()
    if s.startswith("|"):
        s = s[1:]
    cells: list[tuple[str, tuple[int, ...]]] = []
    text: list[str] = []
    numbers: list[int] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            text.append(s[i + 1])
            i += 2
            continue
        if ch == "|":
            cells.append((_SPACE.sub(" ", "".join(text)).strip(), tuple(numbers)))
            text, numbers = [], []
            i += 1
            continue
        if ch == "[":
            m = re.match(r"\[(\d+)\]", s[i:])
            if m:
                numbers.append(int(m.group(1)))
                i += m.end()
                continue
        text.append(ch)
        i += 1
    rest = _SPACE.sub(" ", "".join(text)).strip()
    if rest or numbers:
        cells.append((rest, tuple(numbers)))
    return cells


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_lines(answer: Any) -> list[Line]:
    """The answer's content lines, classified; headings, table headers, blank lines and a lone '>' are left out."""
    out: list[Line] = []
    in_table = False  # inside a Markdown table (its first row is the header)
    in_conflicts = False  # after the '**Sources disagree**' heading
    for raw in answer.text.splitlines():
        s = raw.strip()
        if not s.startswith("|"):
            in_table = False
        # '**Evidence**', '**Sources**', '**Sources disagree**', '**Outcomes reported** (...)'
        heading = s.startswith("**Outcomes reported**") or (
            _HEADING.match(s) is not None and not s.startswith("**Answer.**"))
        if not s or s == ">" or heading:
            if s:
                in_conflicts = s == CONFLICT_HEADING
            continue
        if s.startswith("|"):
            if not in_table:  # the header row
                in_table = True
                continue
            if _TABLE_SEPARATOR.match(s):
                continue
            cells = split_cells(s)
            numbers = tuple(dict.fromkeys(n for _, ns in cells for n in ns))
            out.append(Line("row", " | ".join(text for text, _ in cells), numbers, raw))
            continue
        marks = _TRAILING_MARKS.search(s)
        numbers = tuple(int(n) for n in _MARK.findall(marks.group(0))) if marks else ()
        body = s[: marks.start()].rstrip() if marks else s
        if s.startswith(">") or s.startswith("_Safety:"):
            # the FDA notice, its off-label line included; a blockquote is only ever the notice
            out.append(Line("notice", body, numbers, raw))
            continue
        if s.startswith("_Note:"):  # e.g. 'fell back to quoting the sources': about the answer, not a claim
            out.append(Line("note", body, numbers, raw))
            continue
        if answer.abstained:
            out.append(Line("abstention", body, numbers, raw))
            continue
        if s.startswith("- ") and (in_conflicts or (s.startswith("- On ") and "rather than one chosen" in s)):
            numbers = tuple(dict.fromkeys(int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", s)))
            text = _unescape(re.sub(r"\s*(?<!\\)\[\d+\]", "", s[2:])).strip()
            out.append(Line("conflict", text, numbers, raw))
            continue
        in_conflicts = False
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


# -- outcome table and conflicts ------------------------------------------------------------------


def numbers_in(text: str) -> list[str]:
    """The numbers written in a text: '24/27 patients (89%)' -> ['24', '27', '89'], '54.9%' -> ['54.9']."""
    return _NUMBER.findall(unicodedata.normalize("NFKC", text))


@dataclass
class OutcomeCheck:
    rows: int = 0  # rows of the outcome table (answer.outcomes)
    rows_supported: int = 0  # rows whose every number is in the cited passage
    unsupported_rows: list[str] = field(default_factory=list)  # why each unsupported row failed
    unknown_citation: list[str] = field(default_factory=list)  # rows citing a number with no source
    rows_shown: int = 0  # table rows rendered in the answer text
    conflicts: int = 0
    conflicts_two_docs: int = 0  # conflicts whose statements cite passages of two or more documents
    single_doc_conflicts: list[str] = field(default_factory=list)

    @property
    def row_support(self) -> float | None:
        return self.rows_supported / self.rows if self.rows else None


def _row_label(row: Any) -> str:
    when = getattr(row, "time_point", "") or ""
    return f"{getattr(row, 'outcome', '')}{' at ' + when if when else ''}: {getattr(row, 'result', '')}"[:100]


def check_outcomes(answer: Any) -> OutcomeCheck:
    """Row support of the outcome table and provenance of the conflicts, from the structured fields.

    A row is supported when every number in its time point and result (e.g. '12', '24', '27', '89'
    for '12 weeks', '24/27 patients (89%)') is also a number in the text of the passage it cites.
    A conflict holds when its statements cite passages of at least two different documents.
    """
    by_number = {c.number: c for c in answer.citations}
    result = OutcomeCheck()
    for row in tuple(getattr(answer, "outcomes", ()) or ()):
        result.rows += 1
        n = getattr(row, "number", None)
        cit = by_number.get(n)
        if cit is None:
            result.unknown_citation.append(f"[{n}] has no source (row '{_row_label(row)}')")
            result.unsupported_rows.append(f"[{n}] has no source (row '{_row_label(row)}')")
            continue
        have = set(numbers_in(cit.chunk.text))
        wanted = numbers_in(f"{getattr(row, 'time_point', '') or ''} {getattr(row, 'result', '') or ''}")
        missing = list(dict.fromkeys(x for x in wanted if x not in have))
        if missing:
            result.unsupported_rows.append(
                f"[{n}] {cit.chunk.id} does not state {', '.join(missing)} (row '{_row_label(row)}')")
        else:
            result.rows_supported += 1
    for conflict in tuple(getattr(answer, "conflicts", ()) or ()):
        result.conflicts += 1
        rows = tuple(getattr(conflict, "rows", ()) or ())
        docs = {by_number[r.number].chunk.doc_id for r in rows if getattr(r, "number", None) in by_number}
        if len(docs) >= 2:
            result.conflicts_two_docs += 1
        else:
            numbers = ", ".join(f"[{getattr(r, 'number', '?')}]" for r in rows) or "no citation"
            result.single_doc_conflicts.append(
                f"on {getattr(conflict, 'topic', '?')}: {numbers} cite {len(docs)} document(s)"
                f"{' (' + ', '.join(sorted(docs)) + ')' if docs else ''}")
    result.rows_shown = sum(1 for line in parse_lines(answer) if line.kind == "row")
    return result


# -- safety -----------------------------------------------------------------------------------------


def is_prominent(answer: Any) -> bool:
    return bool(getattr(answer, "prominent", any(n.prominent for n in answer.safety)))


def off_label_flag(answer: Any) -> bool | None:
    """The answer's off-label flag (`answer.off_label`, else any notice's `off_label`); None when it has none."""
    flag = getattr(answer, "off_label", None)
    if flag is None:
        flags = [getattr(n, "off_label", None) for n in getattr(answer, "safety", ())]
        if all(f is None for f in flags):
            return None
        flag = any(flags)
    return bool(flag)


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
    off_label, n_off_label = _share(x.get("off_label_ok") for x in m)
    table_ok, n_table = _share(x.get("table_ok") for x in m)
    rows = sum(x.get("outcome_rows", 0) for x in m)
    conflicts = sum(x.get("conflicts", 0) for x in m)
    rows_supported = sum(x.get("rows_supported", 0) for x in m)
    conflicts_two_docs = sum(x.get("conflicts_two_docs", 0) for x in m)
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
        "outcomes": {
            "answers_with_table": sum(1 for x in m if x.get("outcome_rows", 0) > 0),
            "table_questions": n_table,  # questions whose set requires a table ("table": true)
            "table_present": table_ok,
            "rows": rows,
            "rows_supported": rows_supported,
            "row_support": rows_supported / rows if rows else None,
            "rows_unknown_citation": sum(len(x.get("rows_unknown_citation", ())) for x in m),
            "conflicts": conflicts,
            "conflicts_two_docs": conflicts_two_docs,
            "conflict_provenance": conflicts_two_docs / conflicts if conflicts else None,
        },
        "safety": {
            "combination_questions": n_guard,
            "guardrail_recall": guard_recall,
            "non_combination_questions": n_quiet,
            "false_alarm_rate": false_alarm,
            "notice_present": notice,
            "notice_cited": notice_cited,
            "notice_placement_ok": placement,
            "off_label_questions": n_off_label,  # combination questions whose answer carries the off-label field
            "off_label_flag": off_label,
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
