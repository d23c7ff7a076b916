"""Outcome table and disagreements between sources, read from the retrieved passages.

Part of the compose stage. A row is one reported result ('Clinical response', '12 weeks',
'24/27 patients (89%)') read from a list item under its lead-in ('Short-term outcomes (12
weeks):') or from a sentence ('After 26 weeks ..., all patients achieved ... remission').
Nothing is computed or pooled: every cell is text of the passage, and the cite stage checks
each row's words and numbers against it. Two rows from different sources that disagree on the
same outcome (one reports no adverse events, another 48%) become a `Conflict`, which the answer
shows with both citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qa.drugs import concerns_jak_combination, find_drugs
from qa.textparse import list_parts, statements, strip_ref_markers
from qa.types import Chunk, Conflict, Findings, Hit, OutcomeRow

# Questions that ask for results get a table.
RESULT_QUESTION = re.compile(
    r"\b(?:outcomes?|results?|response|remission|efficacy|effective(?:ness)?|adverse|side[- ]effects?|"
    r"safety|safe|discontinu\w*|persistence|rates?|how many|what (?:percentage|proportion|share)|healing|"
    r"исход\w*|результат\w*|ремисси\w*|ответ|resultados?|remisi[oó]n|respuesta)\b",
    re.IGNORECASE,
)
_QUALIFIER = (r"clinical|endoscopic|steroid[- ]free|corticosteroid[- ]free|biochemical|histologic(?:al)?|deep|"
              r"serious|severe|treatment|drug|sustained|complete|mucosal|immunobiological|fistula|radiological")
OUTCOME = re.compile(
    rf"(?:(?:{_QUALIFIER}),?\s+(?:and\s+)?)*(?:response|remission|adverse[- ]events?(?:\s+rates?)?|"
    r"side[- ]effects|discontinuations?|healing|infections?|hospitali[sz]ations?|surgery|colectomy|"
    r"deaths?|mortality|persistence)",
    re.IGNORECASE,
)
RESULT = re.compile(
    r"\d+\s*/\s*\d+\s+(?:patients|participants)(?:\s*\(\d+(?:\.\d+)?\s*%\))?|\d+(?:\.\d+)?\s*%"
)
TIME = re.compile(
    r"(?<![\d.,])\d{1,3}(?:\.\d+)?[\s-](?:weeks?|months?|years?)\b|\b(?:week|month|year)\s+\d{1,3}\b", re.IGNORECASE
)
_PERCENT_AT_TIME = re.compile(
    r"(\d+(?:\.\d+)?\s*%)\s+at\s+((?:week|month|year)\s+\d{1,3}|\d{1,3}\s+(?:weeks?|months?|years?))",
    re.IGNORECASE,
)
_ACHIEVED = re.compile(
    r"\b(all|none of the|no|\d+\s*/\s*\d+|\d+(?:\.\d+)?\s*%)(?:\s+of(?:\s+the)?)?\s+(patients|participants)\s+"
    r"(?:achieved|had|reached|attained|maintained|were in)\s+(.+?)(?=\s+(?:without|with|after|at|by)\b|[.;]|$)",
    re.IGNORECASE,
)
_WITHOUT = re.compile(
    r"\bwithout\s+(?:any\s+)?((?:serious\s+|severe\s+)?(?:adverse[- ]events?|side[- ]effects|infections?|"
    r"complications))",
    re.IGNORECASE,
)
_COMBINATION_CONTEXT = re.compile(
    r"\b(?:combin\w*|dual|plus|concomitant\w*|concurrent\w*|simultaneous\w*|add[- ]on)\b", re.IGNORECASE
)
_CATEGORIES = (
    ("adverse events", re.compile(r"adverse|side[- ]effect|infection|complication", re.IGNORECASE)),
    ("discontinuation", re.compile(r"discontinu", re.IGNORECASE)),
    ("steroid-free remission", re.compile(r"steroid[- ]free", re.IGNORECASE)),
    ("remission", re.compile(r"remission", re.IGNORECASE)),
    ("response", re.compile(r"response", re.IGNORECASE)),
    ("healing", re.compile(r"healing", re.IGNORECASE)),
    ("persistence", re.compile(r"persistence", re.IGNORECASE)),
)
# Two shares of patients for the same outcome and time point further apart than this disagree.
CONFLICT_POINTS = 15.0
_WEEKS = {"week": 1.0, "month": 52 / 12, "year": 52.0}


def category(outcome: str) -> str:
    for name, rx in _CATEGORIES:
        if rx.search(outcome):
            return name
    return " ".join(outcome.lower().split())


# A duration that describes the patients or the treatment ('Mean treatment duration: 27.65
# months', 'median follow-up of 18 months') is not the time point a result was measured at.
_DURATION_BEFORE = re.compile(r"\b(?:mean|median|average|duration|follow[- ]up)\b[^.;%\d]{0,30}$", re.IGNORECASE)


def time_in(text: str) -> str:
    """The first time point a text names ('12 weeks', 'year 1'); '' when none."""
    for m in TIME.finditer(text):
        if not _DURATION_BEFORE.search(text[: m.start()]):
            return " ".join(m.group(0).split())
    return ""


def time_weeks(time_point: str) -> float:
    """'12 weeks' -> 12, 'year 1' -> 52; unknown -> infinity (sorts last)."""
    m = re.search(r"\d+(?:\.\d+)?", time_point)
    unit = re.search(r"week|month|year", time_point, re.IGNORECASE)
    if not m or not unit:
        return float("inf")
    return float(m.group(0)) * _WEEKS[unit.group(0).lower()]


def share(result: str) -> float | None:
    """The share of patients in percent that a result states (0 for 'none', 100 for 'all')."""
    low = result.lower()
    if low.startswith(("none", "no ")):
        return 0.0
    if low.startswith("all "):
        return 100.0
    m = re.search(r"(\d+(?:\.\d+)?)\s*%", result)
    if m:
        return float(m.group(1))
    m = re.search(r"(\d+)\s*/\s*(\d+)", result)
    if m and int(m.group(2)):
        return 100.0 * int(m.group(1)) / int(m.group(2))
    return None


def _cap(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;:")
    return text[:1].upper() + text[1:]


def _row(outcome: str, time_point: str, result: str, chunk: Chunk, fragments: tuple[str, ...]) -> OutcomeRow:
    outcome, result = _cap(outcome), " ".join(result.split()).strip(" ,;")
    return OutcomeRow(outcome=outcome, time_point=time_point, result=result, chunk_id=chunk.id,
                      fragments=fragments, category=category(outcome), value=share(result))


def _from_statement(text: str, time_point: str, chunk: Chunk, fragments: tuple[str, ...]) -> list[OutcomeRow]:
    """Rows of one list item or sentence (empty when it reports no result)."""
    label, sep, value = text.partition(":")
    if sep and re.search(r"\w", value) and OUTCOME.search(label) and not RESULT.search(label):
        pairs = _PERCENT_AT_TIME.findall(value)
        if len(pairs) > 1:  # 'Clinical remission rates: 54.9% at year 1, 76.92% at year 4'
            return [_row(label, " ".join(t.split()), p, chunk, fragments) for p, t in pairs]
        return [_row(label, time_in(value) or time_point, value, chunk, fragments)]
    rows: list[OutcomeRow] = []
    time_point = time_in(text) or time_point
    for m in _ACHIEVED.finditer(text):
        if OUTCOME.search(m.group(3)):
            rows.append(_row(m.group(3), time_point, f"{m.group(1)} {m.group(2)}", chunk, fragments))
    for m in _WITHOUT.finditer(text):
        rows.append(_row(m.group(1), time_point, f'none ("without {m.group(1)}")', chunk, fragments))
    if rows:
        return rows
    outcomes, results = list(OUTCOME.finditer(text)), RESULT.findall(text)
    if len({category(o.group(0)) for o in outcomes}) == 1 and len(results) == 1:
        return [_row(outcomes[0].group(0), time_point, results[0], chunk, fragments)]
    return []


def rows_of(chunk: Chunk) -> list[OutcomeRow]:
    """Every result a passage reports (reference entries and author records report none)."""
    if chunk.kind in ("reference", "author"):
        return []
    rows: list[OutcomeRow] = []
    if chunk.kind == "list":
        lead, items = list_parts(chunk.text)
        lead = strip_ref_markers(lead).strip()
        lead_time = time_in(lead)
        for item in items:
            item = strip_ref_markers(item).strip()
            rows += _from_statement(item, lead_time, chunk, (lead, item) if lead else (item,))
        return rows
    for sentence in statements(chunk.text):
        sentence = strip_ref_markers(sentence).strip()
        rows += _from_statement(sentence, "", chunk, (sentence,))
    return rows


@dataclass(frozen=True)
class _Scope:
    """What rows must be about to answer a question: the combination, and the drugs it names."""

    combination: bool
    drugs: frozenset[str]


class Tabulator:
    """Finds the outcome rows and conflicts among the retrieved passages of an answer."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        # Each passage is read in the context of its whole section ('Short-term outcomes (12
        # weeks)' is about the combination named two chunks earlier), so keep section texts.
        sections: dict[tuple[str, str], list[str]] = {}
        for c in chunks:
            sections.setdefault((c.doc_id, c.section), []).append(c.text)
        self._context = {key: f"{key[1]}\n" + "\n".join(texts) for key, texts in sections.items()}
        self._drugs: dict[tuple[str, str], frozenset[str]] = {}

    def _section_drugs(self, key: tuple[str, str]) -> frozenset[str]:
        if key not in self._drugs:
            self._drugs[key] = frozenset(m.drug.generic for m in find_drugs(self._context.get(key, "")))
        return self._drugs[key]

    def _in_scope(self, chunk: Chunk, scope: _Scope) -> bool:
        key = (chunk.doc_id, chunk.section)
        context = self._context.get(key, chunk.text)
        if scope.combination and not _COMBINATION_CONTEXT.search(context):
            return False
        return not scope.drugs or bool(scope.drugs & self._section_drugs(key))

    def find(self, question: str, hits: Sequence[Hit], answer_text: str = "") -> Findings:
        """Rows (when the question asks for results) and conflicts relevant to the question or answer."""
        scope = _Scope(combination=concerns_jak_combination(question)[0],
                       drugs=frozenset(m.drug.generic for m in find_drugs(question)))
        rows: list[OutcomeRow] = []
        for hit in hits:
            if self._in_scope(hit.chunk, scope):
                rows += rows_of(hit.chunk)
        rows = _dedupe(rows)
        first = {}  # sources in retrieval order, then time points in order
        for r in rows:
            first.setdefault(_doc(r), len(first))
        # A question that names outcomes ('steroid-free remission at week 52') gets rows of those
        # outcomes only; one that does not ('What were the outcomes?') gets every outcome.
        asked = {category(m.group(0)) for m in OUTCOME.finditer(question)}
        table = tuple(sorted((r for r in rows if not asked or _asked_for(r, asked)),
                             key=lambda r: (first[_doc(r)], time_weeks(r.time_point)))) \
            if RESULT_QUESTION.search(question) else ()
        topics = {category(m.group(0)) for m in OUTCOME.finditer(f"{question}\n{answer_text}")}
        topics |= {r.category for r in table}
        chunk_doc = {h.chunk.id: h.chunk.doc_id for h in hits}
        conflicts = tuple(c for c in _conflicts(rows, chunk_doc) if c.topic in topics)
        return Findings(rows=table, conflicts=conflicts)


def _asked_for(row: OutcomeRow, asked: set[str]) -> bool:
    # steroid-free remission is a remission; a question about remission wants it too
    return row.category in asked or (row.category == "steroid-free remission" and "remission" in asked)


def _dedupe(rows: list[OutcomeRow]) -> list[OutcomeRow]:
    """One row per source, outcome and time point: a restatement of the same figure is dropped
    ('48% adverse event rate' after 'Adverse events occurred in 13/27 patients (48%)')."""
    kept: list[OutcomeRow] = []
    for r in sorted(rows, key=lambda r: -len(re.findall(r"\d+", r.result))):
        if any(k.category == r.category and k.value == r.value and k.value is not None
               and _doc(k) == _doc(r) and (k.time_point == r.time_point or not r.time_point) for k in kept):
            continue
        kept.append(r)
    order = {id(r): i for i, r in enumerate(rows)}
    kept.sort(key=lambda r: order[id(r)])
    return kept


def _doc(row: OutcomeRow) -> str:
    return row.chunk_id.rsplit(":", 2)[0]  # chunk ids are '<doc_id>:<ordinal>:<hash>'


def _conflicts(rows: list[OutcomeRow], chunk_doc: dict[str, str]) -> list[Conflict]:
    """Pairs of rows from different documents that disagree on one outcome.

    Disagreement: one source reports none where another reports some (at any time point), or
    both state a share of patients for the same time point more than CONFLICT_POINTS apart.
    """
    found: dict[str, Conflict] = {}
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if a.category != b.category or a.value is None or b.value is None:
                continue
            if chunk_doc.get(a.chunk_id) == chunk_doc.get(b.chunk_id) or a.category in found:
                continue
            none_vs_some = (a.value == 0) != (b.value == 0)
            apart = bool(a.time_point) and a.time_point == b.time_point and abs(a.value - b.value) > CONFLICT_POINTS
            if none_vs_some or apart:
                found[a.category] = Conflict(topic=a.category, rows=(a, b))
    return list(found.values())
