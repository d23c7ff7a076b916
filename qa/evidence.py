"""Evidence level of each passage: the kind of evidence, with n and follow-up where stated.

Read at indexing time, in this order: the manifest's `kind`, `n` and `follow_up` for a
document; otherwise the document's own title and text. Inside a document that is not itself a
study (an expert answer, a review), a section whose heading names a study design ('Single Case
Series Data') gets that design, with the n and follow-up its own text states. A reference list
entry gets the design its title names ('A Systematic Review and Meta-analysis'). Nothing is
guessed: a number that the text does not state stays unset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.types import Block, DocMeta, Evidence, Reference

# Canonical kinds, strongest regulatory / evidential weight first.
LEVELS = (
    "FDA label",
    "guideline",
    "systematic review/meta-analysis",
    "randomized trial",
    "cohort study",
    "case series",
    "case report",
    "narrative review",
    "expert answer",
)
STUDY_KINDS = frozenset({"randomized trial", "cohort study", "case series", "case report"})

# Most specific first: "systematic review of randomized trials" is a systematic review.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.IGNORECASE))
    for kind, rx in (
        ("FDA label", r"\b(?:fda[- ]approved label\w*|fda label\w*|prescribing information|package insert|"
                      r"summary of product characteristics)\b"),
        ("systematic review/meta-analysis", r"\b(?:systematic(?:al)? review|meta-?analys[ie]s|network meta)\b"),
        ("guideline", r"\b(?:guidelines?|consensus|position statement|practice recommendations?|initiative)\b"),
        ("randomized trial", r"\b(?:randomi[sz]ed|placebo-controlled|phase (?:2|3|ii|iii)b?\b|controlled trial)"),
        ("case report", r"\b(?:case report|a case of)\b"),
        ("case series", r"\b(?:case[- ]series|clinical cases|series of (?:\d+ )?(?:patients|cases)|"
                        r"experience (?:from|at) an?\b)"),
        ("cohort study", r"\b(?:cohort|retrospective|prospective(?:ly)?|registry|real[- ]world|observational)\b"),
        ("expert answer", r"\b(?:structured evidence answer|evidence answer|expert (?:answer|opinion))\b"),
        ("narrative review", r"\b(?:review|an update on|update on)\b"),
    )
)

_N_EQUALS = re.compile(r"\bn\s*=\s*(\d{1,6})\b", re.IGNORECASE)
_N_PATIENTS = re.compile(r"\b(?:\d{1,6}\s*/\s*)?(\d{1,6})\s+(?:patients|participants|subjects|adults|children)\b",
                         re.IGNORECASE)
_TIME = re.compile(r"(?<![\d.,])(\d{1,3}(?:\.\d+)?)[\s-](week|month|year)s?\b|\b(week|month|year)\s+(\d{1,3})\b",
                   re.IGNORECASE)
_WEEKS = {"week": 1.0, "month": 52 / 12, "year": 52.0}


def classify(text: str) -> str:
    """The evidence kind a title or manifest value names ('' when none)."""
    for kind, rx in _PATTERNS:
        if rx.search(text):
            return kind
    return ""


def patients(text: str) -> int | None:
    """The study size the text states: the largest 'n=27', '27 patients' or '24/27 patients'."""
    found = [int(m.group(1)) for m in _N_EQUALS.finditer(text)]
    found += [int(m.group(1)) for m in _N_PATIENTS.finditer(text)]
    return max(found) if found else None


def follow_up(text: str) -> str:
    """The longest time point the text states ('After 26 weeks' -> '26 weeks'; '' when none)."""
    best: tuple[float, str] | None = None
    for m in _TIME.finditer(text):
        value, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        unit = unit.lower()
        span = float(value) * _WEEKS[unit]
        if best is None or span > best[0]:
            best = (span, f"{value} {unit}{'s' if value != '1' else ''}")
    return best[1] if best else ""


def document_evidence(meta: DocMeta, blocks: Sequence[Block]) -> Evidence:
    """The document's own evidence: the manifest's kind, n and follow-up, else read from its text."""
    body = "\n".join(b.text for b in blocks if b.kind in ("paragraph", "list"))
    kind = classify(meta.kind) if meta.kind else ""
    basis = "manifest" if kind else "document"
    if not kind:
        kind = classify(meta.title) or classify(body[:2000])
    n, time = meta.n, meta.follow_up
    if kind in STUDY_KINDS:
        n = n if n is not None else (1 if kind == "case report" else patients(body))
        time = time or follow_up(body)
    if not kind and n is None and not time:
        return Evidence()
    return Evidence(kind=kind, n=n, follow_up=time, basis=basis)


def section_evidence(heading: str, blocks: Sequence[Block], document: Evidence) -> Evidence | None:
    """A section of a non-study document whose heading names a study design (else None)."""
    if document.kind in STUDY_KINDS:
        return None
    kind = classify(heading)
    if kind not in STUDY_KINDS:
        return None
    body = "\n".join(b.text for b in blocks)
    n = 1 if kind == "case report" else patients(body)
    return Evidence(kind=kind, n=n, follow_up=follow_up(body), basis=f"section '{heading}'",
                    within=document.kind)


def reference_evidence(reference: Reference) -> Evidence:
    """A reference list entry: the design its title names (the cited work itself is not indexed)."""
    return Evidence(kind=classify(reference.title or reference.raw), basis="reference title")


def evidence_by_block(meta: DocMeta, blocks: Sequence[Block]) -> list[Evidence | None]:
    """The evidence of every block of one document, in block order."""
    document = document_evidence(meta, blocks)
    sections: dict[str, list[Block]] = {}
    for b in blocks:
        if b.kind in ("paragraph", "list"):
            sections.setdefault(b.section, []).append(b)
    by_section = {h: section_evidence(h, bs, document) for h, bs in sections.items() if h}
    out: list[Evidence | None] = []
    for b in blocks:
        if b.kind == "author":
            out.append(None)  # an author record is not evidence
        elif b.kind == "reference" and b.reference is not None:
            out.append(reference_evidence(b.reference))
        else:
            out.append(by_section.get(b.section) or document)
    return out
