"""Checks on answers shared by the end-to-end tests: is a fact there, and does its sentence cite it?"""

from __future__ import annotations

import re

from qa import Answer

_CITE = re.compile(r"\[(\d+)\]")
HEADINGS = ("**Evidence**", "**Outcomes reported**", "**Sources disagree**", "| Outcome |", "|---", "_Note:")


def norm(text: str) -> str:
    text = re.sub(r"\(ref\.\s*[\d,\s]+\)", "", text)
    return " ".join(text.replace("’", "'").split()).lower()


def cited_lines_with(answer: Answer, fact: str) -> list[tuple[str, list[int]]]:
    """Answer lines that contain the fact, with the citation numbers on each line."""
    out = []
    for line in answer.text.splitlines():
        if norm(fact) in norm(line):
            out.append((line, [int(n) for n in _CITE.findall(line)]))
    return out


def fact_is_cited(answer: Answer, fact: str) -> bool:
    """The fact is in an answer sentence that cites a retrieved passage containing it."""
    by_number = {c.number: c for c in answer.citations}
    for _, numbers in cited_lines_with(answer, fact):
        if any(n in by_number and norm(fact) in norm(by_number[n].chunk.text) for n in numbers):
            return True
    return False


def citations_are_sound(answer: Answer) -> list[str]:
    """Problems with the answer's citations: unknown numbers, uncited sentences, unretrieved passages."""
    problems = []
    numbers = {c.number for c in answer.citations}
    retrieved = {cid for cid, _ in answer.retrieved}
    for n in (int(x) for x in _CITE.findall(answer.text)):
        if n not in numbers:
            problems.append(f"[{n}] in the text has no citation")
    for c in answer.citations:
        if c.chunk.id not in retrieved and not c.chunk.meta.kind == "FDA label":
            problems.append(f"[{c.number}] {c.chunk.id} was not retrieved")
    for line in answer.text.splitlines():
        body = line.strip()
        # Headings, the table's header rows, an empty quote line and "_Note: ..._" (the
        # pipeline's own remark) are not claims.
        if (body and body != ">" and not body.startswith(HEADINGS) and not _CITE.search(body)
                and not answer.abstained):
            problems.append(f"uncited line: {body[:80]}")
    return problems
