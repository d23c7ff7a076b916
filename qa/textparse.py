"""Structure from plain text: sections, paragraphs, lists, author records and reference lists.

Plain text is what the .txt and .md loaders read and what PDF extraction yields, so the
heuristics live here once. Web-page boilerplate is dropped before anything is indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.types import Block, Reference

# Lines that belong to the web page around an article, not to the article.
BOILERPLATE_LINE = re.compile(
    r"""^(?:
        cover\s+page | cite\s+item | full\s+text | pdf(?:\s+\(\w+\))? | html | action |
        \d+\.\s*jats\s+xml | jats\s+xml |
        download\s*\(\s*[\d.,]+\s*[kmg]?b\s*\) | download | view\s+(?:pdf|article) |
        creative\s+commons\s+license | copyright\s*(?:\(c\)|©).* |
        this\s+work\s+is\s+licensed\s+under.* | share | print | email\s+this\s+article |
        (?:accept|reject)(?:\s+all)?(?:\s+cookies)? | cookie\s+settings | back\s+to\s+top
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Paragraphs of consent/cookie banners, in English and Russian; dropped whole.
BOILERPLATE_PARAGRAPH = re.compile(
    r"(?:we\s+use\s+cookies|this\s+(?:web)?site\s+uses\s+cookies|cookie\s+policy|"
    r"consent\s+to\s+the\s+processing|обработку\s+персональных\s+данных|"
    r"согласие\s+на\s+обработку|яндекс\.метрика|privacy\s+policy)",
    re.IGNORECASE,
)

KNOWN_SECTIONS = {
    "abstract", "about the authors", "authors", "author information", "references",
    "bibliography", "introduction", "background", "methods", "materials and methods",
    "results", "discussion", "conclusion", "conclusions", "keywords", "key words",
    "supplementary files", "figures", "acknowledgements", "acknowledgments", "funding",
    "conflict of interest", "conflicts of interest", "literature", "limitations of use",
    "indications and usage", "case presentation", "case reports", "summary",
}
REFERENCE_SECTIONS = {"references", "bibliography", "literature"}
AUTHOR_SECTIONS = {"about the authors", "authors", "author information"}

BULLET = re.compile(r"^\s*(?:[-*•–]|\d{1,2}[.)])\s+")
REF_ITEM = re.compile(r"^\s*(?:\[(\d{1,3})\]|(\d{1,3})[.)])\s+(.*)$")
PERSON = re.compile(
    r"^[A-ZА-ЯЁ][a-zа-яё'-]+(?:\s+[A-ZА-ЯЁ]\.)*(?:\s+[A-ZА-ЯЁ][a-zа-яё'-]+){1,2}$"
)
# Reference numbers printed after a sentence ("... guidelines. 1", "... switching 3, 4",
# "... at year 4 5"), and inside a line after a closing quote ('cyclosporine." 2 This').
TRAILING_REFS = re.compile(r"(?<=[^\s,])\s+(\d{1,2}(?:\s*,\s*\d{1,2})*)$")
INLINE_REFS = re.compile(r"(?<=[.!?][\"”])\s+(\d{1,2}(?:\s*,\s*\d{1,2})*)\s+(?=[A-Z])")
SENTENCE_END = re.compile(r"[.!?:;)\]\"”]$")


@dataclass(frozen=True)
class Parsed:
    """What a loader found in a file: optional metadata and the structured blocks."""

    blocks: tuple[Block, ...]
    title: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str = ""
    doi: str = ""


def is_boilerplate(line: str) -> bool:
    """True for page furniture such as 'Cite item' or 'Download (93KB)'."""
    s = line.strip()
    return bool(BOILERPLATE_LINE.match(s)) or bool(BOILERPLATE_PARAGRAPH.search(s))


def mark_trailing_refs(line: str, max_ref: int = 99) -> str:
    """Turn bare reference numbers ('... text 3, 4') into '(ref. 3, 4)'; values stay values."""

    def ok(nums: list[int]) -> bool:
        return bool(nums) and 1 <= min(nums) and max(nums) <= max_ref

    def inline(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        return f" (ref. {', '.join(map(str, nums))}) " if ok(nums) else m.group(0)

    line = INLINE_REFS.sub(inline, line)
    m = TRAILING_REFS.search(line)
    if not m:
        return line
    nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
    head = line[: m.start()].rstrip()
    # A number after "year", "week", "step", "patient" is a value, not a reference.
    if not ok(nums) or re.search(
        r"\b(?:years?|weeks?|steps?|patients?|days?|months?|n|fig\.?|grade|stage|type|class|phase)$|[=<>≥≤±+-]$",
        head, re.IGNORECASE,
    ):
        return line
    return f"{head} (ref. {', '.join(str(n) for n in nums)})"


REF_MARKER = re.compile(r"\s*\(ref\.\s*\d+(?:\s*[,–-]\s*\d+)*\)")
# A list item's dash at the start of a line ("- item"), or a dash alone on its line: not part of
# what a passage says. The citation check normalises it away; statements() splits at it.
LIST_DASH = re.compile(r"(?m)^-(?: |$)")
_BEFORE_LIST_DASH = re.compile(r"(?m)\n(?=-(?: |$))")


def strip_ref_markers(text: str) -> str:
    """Remove '(ref. n)' markers, e.g. before quoting a sentence in an answer."""
    return REF_MARKER.sub("", text)


def list_parts(text: str) -> tuple[str, list[str]]:
    """A list passage as its lead-in line ('' when it opens with an item) and its items, each
    without its '- '."""
    lines = text.split("\n")
    lead = "" if lines[0].startswith("- ") else lines[0]
    return lead, [line[2:] for line in lines if line.startswith("- ")]


def statements(text: str) -> list[str]:
    """The sentences of a paragraph passage. A line that opens with a list dash starts a
    statement of its own, without the dash; other line breaks are wrapping."""
    return [s for block in _BEFORE_LIST_DASH.split(text) for s in split_sentences(LIST_DASH.sub("", block))]


def _is_heading(line: str, next_line: str | None, in_authors: bool) -> bool:
    s = line.strip()
    low = s.lower().rstrip(":")
    if low in KNOWN_SECTIONS:
        return True
    if in_authors or next_line is None or BULLET.match(s) or BULLET.match(next_line or ""):
        return False
    if len(s) > 70 or len(s.split()) < 2 or re.search(r"[.!?:;,]$", strip_ref_markers(s)):
        return False
    if not s[0].isupper() or re.search(r"\d{2,}|%|=", s):
        return False
    return bool(next_line.strip())


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Group lines into paragraphs; a blank line ends one."""
    out: list[list[str]] = []
    cur: list[str] = []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _unwrap(lines: list[str]) -> list[str]:
    """Join hard-wrapped lines: a line that does not end a sentence, followed by lower case."""
    out: list[str] = []
    for line in lines:
        s = line.strip()
        if (
            out
            and not BULLET.match(s)
            and not SENTENCE_END.search(out[-1])
            and (s[:1].islower() or s[:1] in "(,;")
        ):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return out


def parse_reference(raw: str, number: int) -> Reference:
    """Split a Vancouver-style reference into authors, title, journal, year and DOI."""
    text = " ".join(raw.split())
    doi_m = re.search(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/|\b(?=10\.\d{4,9}/))(10\.\d{4,9}/\S+?)[.;,]?(?:\s|$)", text, re.I)
    doi = doi_m.group(1) if doi_m else ""
    body = text[: doi_m.start()].strip() if doi_m else text
    year_m = re.search(r"\b((?:19|20)\d{2})\b(?=\s*[;.:(]|\s*$)", body)
    year = int(year_m.group(1)) if year_m else None
    # Authors end at the first ". " after initials or "et al".
    auth_m = re.match(r"^(.+?(?:\bet al|\b[A-ZА-Я]{1,3}))\.\s+(.*)$", body)
    authors, rest = (auth_m.group(1), auth_m.group(2)) if auth_m else ("", body)
    title, journal = rest, ""
    parts = re.split(r"(?<=[.?!])\s+", rest, maxsplit=1)
    if len(parts) == 2:
        title = parts[0].rstrip(".")
        journal_part = parts[1]
        if year_m:
            jy = re.search(r"\b" + str(year) + r"\b", journal_part)
            journal_part = journal_part[: jy.start()] if jy else journal_part
        journal = journal_part.strip(" .;")
    return Reference(
        number=number, raw=text, authors=authors.strip(), title=title.strip(),
        journal=journal, year=year, doi=doi,
    )


def reference_text(ref: Reference, source_label: str = "") -> str:
    """The indexed text of a reference: its fields, so 'Miyatani 2024' finds it."""
    head = f"Reference {ref.number}" + (f" of {source_label}" if source_label else "")
    fields = [ref.raw]
    if ref.year and str(ref.year) not in ref.raw:
        fields.append(str(ref.year))
    return f"{head}: " + " ".join(fields)


def parse_plain_text(
    text: str, *, page: int | None = None, trailing_refs: int = 0, first_line_title: bool = True
) -> Parsed:
    """Parse plain text (or PDF page text) into sections and blocks.

    `trailing_refs` > 0 marks bare reference numbers up to that value as '(ref. n)'.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    raw_lines = text.split("\n")
    title = ""
    if first_line_title:
        for i, line in enumerate(raw_lines):
            if line.strip():
                if len(line.strip()) <= 250 and not BULLET.match(line):
                    title = line.strip()
                    raw_lines = raw_lines[i + 1 :]
                break
    blocks: list[Block] = []
    section = ""
    for para in _paragraphs(raw_lines):
        kept = [ln for ln in para if not is_boilerplate(ln)]
        if not kept:
            continue
        lines = _unwrap(kept)
        if trailing_refs:
            lines = [mark_trailing_refs(ln, trailing_refs) for ln in lines]
        i = 0
        pending: list[str] = []  # paragraph lines

        def flush_pending() -> None:
            if pending:
                blocks.append(Block(section=section, text=" ".join(pending), page=page))
                pending.clear()

        while i < len(lines):
            line = lines[i]
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            low_sec = section.lower()
            if _is_heading(line, nxt, low_sec in AUTHOR_SECTIONS) or (
                len(lines) == 1 and line.strip().lower().rstrip(":") in KNOWN_SECTIONS
            ):
                flush_pending()
                section = line.strip().rstrip(":")
                i += 1
                continue
            if re.match(r"^(?:\d+\.\s*)?fig(?:ure)?\.?\s*\d+[a-z]?\s*[.:—–-]", line.strip(), re.IGNORECASE):
                flush_pending()
                cap = re.sub(r"^\d+\.\s*", "", line.strip())
                blocks.append(Block(section="Figures", text=cap, kind="caption", page=page))
                i += 1
                continue
            if (low_sec in REFERENCE_SECTIONS and blocks and blocks[-1].kind == "reference"
                    and not pending and not REF_ITEM.match(line) and not _is_heading(line, nxt, False)):
                prev = blocks.pop()  # a wrapped reference: the line continues the previous entry
                assert prev.reference is not None
                raw = f"{prev.text} {line.strip()}"
                blocks.append(Block(section=prev.section, text=raw, kind="reference", page=prev.page,
                                    reference=parse_reference(raw, prev.reference.number)))
                i += 1
                continue
            if low_sec in REFERENCE_SECTIONS and REF_ITEM.match(line):
                flush_pending()
                m = REF_ITEM.match(line)
                assert m is not None
                num = int(m.group(1) or m.group(2))
                ref = parse_reference(m.group(3), num)
                blocks.append(Block(section=section, text=m.group(3).strip(), kind="reference",
                                    page=page, reference=ref))
                i += 1
                continue
            if nxt is not None and BULLET.match(nxt) and not BULLET.match(line):
                # A lead-in with its list items stays one block.
                flush_pending()
                items = []
                j = i + 1
                while j < len(lines) and BULLET.match(lines[j]):
                    items.append("- " + BULLET.sub("", lines[j]).strip())
                    j += 1
                blocks.append(Block(section=section, text="\n".join([line.strip(), *items]),
                                    kind="list", page=page))
                i = j
                continue
            if BULLET.match(line):
                flush_pending()
                items = []
                j = i
                while j < len(lines) and BULLET.match(lines[j]):
                    items.append("- " + BULLET.sub("", lines[j]).strip())
                    j += 1
                blocks.append(Block(section=section, text="\n".join(items), kind="list", page=page))
                i = j
                continue
            if low_sec in AUTHOR_SECTIONS:
                pending.append(line.strip())
                i += 1
                continue
            # One line in the source is one paragraph unless the paragraph was hard-wrapped.
            pending.append(line.strip())
            flush_pending()
            i += 1
        flush_pending()
    blocks = merge_author_records(blocks)
    return Parsed(blocks=tuple(blocks), title=title)


def merge_author_records(blocks: list[Block]) -> list[Block]:
    """In author sections, one record per person: name, affiliation, e-mail, ORCID."""
    out: list[Block] = []
    current: list[str] = []
    current_section = ""

    def flush() -> None:
        if current:
            name, *rest = current
            out.append(Block(section=current_section, text=f"{name}: " + ". ".join(
                r.rstrip(".") for r in rest) + ".", kind="author"))
            current.clear()

    for b in blocks:
        if b.section.lower() in AUTHOR_SECTIONS and b.kind == "paragraph":
            if PERSON.match(b.text.strip()):
                flush()
                current_section = b.section
                current.append(b.text.strip())
            elif current:
                current.append(b.text.strip())
            else:
                out.append(b)
            continue
        flush()
        out.append(b)
    flush()
    return out


def authors_from_blocks(blocks: tuple[Block, ...]) -> tuple[str, ...]:
    """Author names from author records, in page order."""
    return tuple(b.text.split(":", 1)[0] for b in blocks if b.kind == "author")


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-ZА-ЯЁ0-9\"“(\[])")
_ABBREV = re.compile(
    r"(?:\bet al|\be\.g|\bi\.e|\bvs|\bFig|\bDr|\bProf|\bSci|\bMed|\bno|\bapprox|\bref|\b[A-ZА-Я])\.$"
)


def split_sentences(text: str) -> list[str]:
    """Sentence split that survives 'et al.', 'e.g.', initials, decimals and '(ref. 1)'."""
    parts = SENTENCE_SPLIT.split(" ".join(text.split()))
    out: list[str] = []
    for p in parts:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return [s.strip() for s in out if s.strip()]
