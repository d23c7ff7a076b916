"""Structure from Markdown, HTML, JATS XML and PDF files.

Each parser returns `qa.textparse.Parsed`: metadata found in the file plus `Block`s in reading
order (sections, paragraphs, lists with their lead-in, references, author records, captions).
Broken input raises `DocumentError` with a message that names the problem; library exceptions
never escape. Nothing in a file is executed: the output is plain text only.
"""

from __future__ import annotations

import html
import html.entities
import io
import re
from dataclasses import replace
from typing import Iterable, Sequence
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from bs4 import BeautifulSoup, CData, NavigableString, Tag
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from pypdf import PdfReader

from qa.textparse import (
    AUTHOR_SECTIONS,
    KNOWN_SECTIONS,
    REF_ITEM,
    REFERENCE_SECTIONS,
    Parsed,
    merge_author_records,  # shared with the plain-text parser: one record per person
    authors_from_blocks,
    is_boilerplate,
    parse_plain_text,
    parse_reference,
)
from qa.types import Block, Reference

__all__ = ["DocumentError", "parse_html", "parse_jats", "parse_markdown", "parse_pdf", "MAX_PDF_PAGES"]

MAX_PDF_PAGES = 2000


class DocumentError(ValueError):
    """A file that cannot be parsed; the message names the problem."""


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

# Invisible characters and C0 controls that survive extraction and split words or tokens.
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
# "Figure 2. ...", "Fig. 1: ...", "Table 3 – ..."; the delimiter keeps "Figure 1 shows" a paragraph.
_CAPTION = re.compile(r"^(?:fig(?:ure)?\.?|table)\s*\d+[a-z]?\s*[.:|—–-]", re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+")


def _clean(text: str) -> str:
    """Whitespace-normalised text without invisible characters."""
    return " ".join(_INVISIBLE.sub("", text).split())


def _section_key(name: str) -> str:
    """'5. References:' -> 'references', for lookups in the textparse section sets."""
    return _SECTION_NUMBER.sub("", name.strip()).rstrip(":").strip().lower()


def _year(text: str | None) -> int | None:
    m = _YEAR.search(text or "")
    return int(m.group(1)) if m else None


def _clean_doi(text: str | None) -> str:
    doi = _DOI_PREFIX.sub("", (text or "").strip()).rstrip(".,;")
    return doi if doi.startswith("10.") else ""


def _same(a: str, b: str) -> bool:
    return _clean(a).casefold() == _clean(b).casefold()


def _could_be_title(heading: str, title: str, title_seen: bool) -> bool:
    """The first top-level heading is the document title unless it names a section ("References")."""
    if title_seen or not heading or _section_key(heading) in KNOWN_SECTIONS:
        return False
    return not title or _same(heading, title)


def _reason(exc: BaseException) -> str:
    """A short, single-line reason for an error message."""
    text = _clean(str(exc)) or type(exc).__name__
    return text[:200]


def _ref_numbers(text: str) -> list[int]:
    """'3, 5–7' -> [3, 5, 6, 7]; [] unless the text is only a list of citation numbers."""
    text = text.strip().strip("[]()")
    if not re.fullmatch(r"\d{1,3}(?:\s*[,;–—-]\s*\d{1,3})*", text):
        return []
    nums: list[int] = []
    for part in re.split(r"\s*[,;]\s*", text):
        bounds = [int(x) for x in re.split(r"\s*[–—-]\s*", part)]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 30:
            nums.extend(range(bounds[0], bounds[1] + 1))
        else:
            nums.extend(bounds)
    return nums


def _ref_marker(text: str) -> str:
    """Superscript citation numbers as the '(ref. n)' marker textparse uses, or ''."""
    nums = _ref_numbers(text)
    return f" (ref. {', '.join(map(str, nums))})" if nums else ""


def _last(parts: list[str]) -> str:
    return next((p for p in reversed(parts) if p.strip()), "")


def _superscript(before: str, inner: str) -> str:
    """'10' + <sup>9</sup> -> '10^9', not '109'; other superscripts are plain text."""
    if before.rstrip()[-1:].isdigit() and re.match(r"\s*[-−–]?\d", inner):
        return "^" + inner.strip()
    return inner


def _looks_like_citation(text: str) -> bool:
    return bool(_YEAR.search(text) or _DOI.search(text))


class _Builder:
    """Collects blocks in reading order; owns the current section and a pending list lead-in."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.section = ""
        self._lead: str | None = None
        self._ref_count = 0

    @property
    def in_references(self) -> bool:
        return _section_key(self.section) in REFERENCE_SECTIONS

    @property
    def in_authors(self) -> bool:
        return _section_key(self.section) in AUTHOR_SECTIONS

    def heading(self, name: str) -> None:
        self._flush_lead()
        self.section = _clean(name).rstrip(":").strip()
        self._ref_count = 0

    def paragraph(self, lines: Iterable[str]) -> None:
        kept = [c for c in (_clean(x) for x in lines) if c and not is_boilerplate(c)]
        if not kept:
            return
        if self.in_references:
            self._reference_lines(kept)
            return
        text = " ".join(kept)
        if is_boilerplate(text):
            return
        self._flush_lead()
        if not self.in_authors and _CAPTION.match(text):
            self.caption(text)
        elif text.endswith(":") and not self.in_authors:
            self._lead = text  # may introduce a list; emitted as a paragraph otherwise
        else:
            self.blocks.append(Block(section=self.section, text=text))

    def list(self, items: Sequence[str], numbers: Sequence[int | None] | None = None) -> None:
        cleaned = [_clean(i) for i in items]
        keep = [k for k, c in enumerate(cleaned) if c and not is_boilerplate(c)]
        if self.in_references:
            self._flush_lead()
            for k in keep:
                self.reference_text(cleaned[k], numbers[k] if numbers else None)
            return
        if not keep:
            return
        lead, self._lead = self._lead, None
        lines = ([lead] if lead else []) + ["- " + cleaned[k] for k in keep]
        self.blocks.append(Block(section=self.section, text="\n".join(lines), kind="list"))

    def reference_text(self, raw: str, number: int | None = None) -> None:
        """One reference from its text; a leading '12.' or '[12]' label gives its number."""
        raw = _clean(raw)
        m = REF_ITEM.match(raw)
        if m:
            number, raw = int(m.group(1) or m.group(2)), m.group(3).strip()
        if not raw:
            return
        number = number or self._ref_count + 1
        self.add_reference(parse_reference(raw, number))

    def add_reference(self, ref: Reference, section: str | None = None) -> None:
        self._flush_lead()
        self._ref_count = ref.number
        where = section or (self.section if self.in_references else "References")
        self.blocks.append(Block(section=where, text=ref.raw, kind="reference", reference=ref))

    def caption(self, text: str) -> None:
        self._flush_lead()
        text = _clean(text)
        if text and not is_boilerplate(text):
            self.blocks.append(Block(section="Figures", text=text, kind="caption"))

    def finish(self) -> tuple[Block, ...]:
        self._flush_lead()
        return tuple(merge_author_records(self.blocks))

    def _flush_lead(self) -> None:
        if self._lead:
            self.blocks.append(Block(section=self.section, text=self._lead))
        self._lead = None

    def _reference_lines(self, lines: list[str]) -> None:
        """In a reference section each labelled line starts a reference; other lines continue it."""
        groups: list[list[str]] = []
        for line in lines:
            if REF_ITEM.match(line) or not groups:
                groups.append([line])
            else:
                groups[-1].append(line)
        for group in groups:
            raw = " ".join(group)
            if REF_ITEM.match(raw) or _looks_like_citation(raw):
                self.reference_text(raw)
            else:  # a note such as "References are numbered in order of citation."
                self._flush_lead()
                self.blocks.append(Block(section=self.section, text=raw))


def _result(builder: _Builder, title: str = "", authors: Sequence[str] = (), year: int | None = None,
            journal: str = "", doi: str = "") -> Parsed:
    blocks = builder.finish()
    return Parsed(
        blocks=blocks,
        title=_clean(title),
        authors=tuple(a for a in (_clean(x) for x in authors) if a) or authors_from_blocks(blocks),
        year=year,
        journal=_clean(journal),
        doi=_clean_doi(doi),
    )


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

_MD_DROP = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_THEMATIC = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^(\s*)(?:([-*+•])|(\d{1,9})[.)])(?:\s+(.*))?$")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_TABLE_DELIM = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")

_MD_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~<])")
_MD_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_MD_REFLINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_FOOTNOTE = re.compile(r"\[\^[^\]]+\]:?")
_MD_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>", re.IGNORECASE)
_MD_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_MD_EMPHASIS = (
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.DOTALL),
    re.compile(r"\*(?=[^\s*])(.+?)(?<=[^\s*])\*", re.DOTALL),
    # Underscores only at word edges, so snake_case and file_names survive.
    re.compile(r"(?<![\w\\])_(?=\S)(.+?)(?<=\S)_(?!\w)", re.DOTALL),
)
_SLOT = re.compile("\ue000(\\d+)\ue001")


def _md_inline(text: str) -> str:
    """Markdown inline syntax to plain text: links keep their text, images go, emphasis goes."""
    saved: list[str] = []

    def keep(value: str) -> str:
        saved.append(value)
        return f"\ue000{len(saved) - 1}\ue001"

    # Code spans and escaped characters are literal: park them before the other rules run.
    text = _MD_CODE.sub(lambda m: keep(m.group(2).strip()), text)
    text = _MD_ESCAPE.sub(lambda m: keep(m.group(1)), text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REFLINK.sub(r"\1", text)
    text = _MD_FOOTNOTE.sub("", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE)
    text = _MD_TAG.sub("", text)
    for rule in _MD_EMPHASIS:
        text = rule.sub(lambda m: m.group(m.lastindex or 1), text)
    text = _SLOT.sub(lambda m: saved[int(m.group(1))] if int(m.group(1)) < len(saved) else "", text)
    return html.unescape(text)


def _md_table_row(line: str) -> str:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return " | ".join(c for c in (_clean(_md_inline(x)) for x in cells) if c)


class _MarkdownReader:
    """Line-by-line Markdown block parser feeding a _Builder."""

    def __init__(self, title: str) -> None:
        self.b = _Builder()
        self.title = title
        self._title_seen = False
        self.para: list[str] = []
        self.items: list[str] = []
        self.numbers: list[int | None] = []
        self.blank_in_list = False
        self.in_table = False
        self.fence = ""
        self.code: list[str] = []

    def feed(self, line: str) -> None:
        if self.fence:
            if re.match(rf"^\s{{0,3}}{re.escape(self.fence[0])}{{{len(self.fence)},}}\s*$", line):
                self.b.paragraph([" ".join(self.code)])
                self.fence, self.code = "", []
            else:
                self.code.append(line)
            return
        fence = _FENCE.match(line)
        if fence:
            self.flush()
            self.fence = fence.group(1)
            return
        line = _QUOTE.sub("", line)
        if not line.strip():
            self._flush_para()
            self.in_table = False
            self.blank_in_list = bool(self.items)
            return
        if _LINK_DEF.match(line) and not _MD_FOOTNOTE.match(line.strip()):
            return
        heading = _ATX.match(line)
        if heading:
            self.flush()
            self._heading(len(heading.group(1)), heading.group(2) or "")
            return
        setext = _SETEXT.match(line)
        if setext and self.para and not self.items and not self.in_table:
            text = " ".join(self.para)
            self.para = []
            self._heading(1 if setext.group(1)[0] == "=" else 2, text)
            return
        if _THEMATIC.match(line):
            self.flush()
            return
        if self._table_line(line):
            return
        if self._list_line(line):
            return
        if self.items:
            if not self.blank_in_list or line[:1] in " \t":
                self.items[-1] = f"{self.items[-1]} {line.strip()}"  # continuation of the item
                self.blank_in_list = False
                return
            self._flush_list()
        self.para.append(line.strip())

    def flush(self) -> None:
        self._flush_para()
        self._flush_list()
        self.in_table = False
        if self.code:
            self.b.paragraph([" ".join(self.code)])
            self.code = []

    def _heading(self, level: int, raw: str) -> None:
        text = _clean(_md_inline(raw))
        if level == 1 and _could_be_title(text, self.title, self._title_seen):
            # The document's own title is metadata, not a section.
            self._title_seen = True
            self.title = self.title or text
            self.b.heading("")
            return
        self.b.heading(text)

    def _table_line(self, line: str) -> bool:
        if self.in_table:
            if "|" in line:
                self.b.paragraph([_md_table_row(line)])
                return True
            self.in_table = False
            return False
        if self.para and "|" in self.para[-1] and _TABLE_DELIM.match(line) and "-" in line:
            header = self.para.pop()
            self._flush_para()
            self.b.paragraph([_md_table_row(header)])
            self.in_table = True
            return True
        return False

    def _list_line(self, line: str) -> bool:
        m = _LIST_ITEM.match(line)
        if not m:
            return False
        number = int(m.group(3)) if m.group(3) else None
        # Only "1." may interrupt a paragraph, so a wrapped line like "2019. Then" stays text.
        if self.para and number not in (None, 1):
            return False
        self._flush_para()
        if self.items and (number is None) != (self.numbers[-1] is None):
            self._flush_list()  # a bullet list and a numbered list are two lists
        self.items.append(m.group(4) or "")
        self.numbers.append(number)
        self.blank_in_list = False
        return True

    def _flush_para(self) -> None:
        if self.para:
            # Inline markup may span lines; strip it on the whole paragraph, then keep the lines
            # so a reference section can split "[1] ..." lines.
            self.b.paragraph(_md_inline("\n".join(self.para)).split("\n"))
            self.para = []

    def _flush_list(self) -> None:
        if self.items:
            items = [_md_inline(i) for i in self.items]
            nums = self.numbers
            # "1. 1. 1." lists are renumbered by renderers; then position is the number.
            given = [n for n in nums if n is not None]
            explicit = len(given) == len(nums) and all(a < b for a, b in zip(given, given[1:]))
            self.b.list(items, nums if explicit else None)
            self.items, self.numbers = [], []
        self.blank_in_list = False


_FM_KEY = re.compile(r"^([A-Za-z_][\w -]*?)\s*:(?:\s+(.*))?$")
_FM_LINE = re.compile(r"^(?:[A-Za-z_][\w -]*:(?:\s.*)?|\s+\S.*|-(?:\s.*)?|#.*|\s*)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()  # YAML comment after a plain value


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    """Split YAML front matter from the body; a small YAML subset, no dependency."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, min(len(lines), 500)) if lines[i].strip() in ("---", "...")), 0)
    block = lines[1:end]
    # Anything but key/value lines means a thematic break, not front matter.
    if not end or not all(_FM_LINE.match(ln) for ln in block) or not any(
        _FM_KEY.match(ln) for ln in block
    ):
        return {}, text
    data: dict[str, object] = {}
    key = ""
    for line in block:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _FM_KEY.match(line)
        if m and not line[0].isspace():
            key, value = m.group(1).strip().lower(), (m.group(2) or "").strip()
            if value.startswith("[") and value.endswith("]"):
                found = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^,]+)', value[1:-1])
                data[key] = [_unquote(a or b or c) for a, b, c in found if (a or b or c).strip()]
            elif value in ("", "|", ">", "|-", ">-", "|+", ">+"):
                data[key] = [] if not value else ""
            else:
                data[key] = _unquote(value)
            continue
        current = data.get(key)
        item = re.match(r"^\s*-\s+(.*)$", line)
        name = re.match(r"^\s*(?:-\s+)?name:\s*(.+)$", line)
        if isinstance(current, list) and (name or (item and ":" not in item.group(1))):
            current.append(_unquote(name.group(1) if name else item.group(1)))  # type: ignore[union-attr]
        elif isinstance(current, str) or (current == [] and not item):
            data[key] = f"{current or ''} {line.strip()}".strip()  # folded or multi-line scalar
    return data, "\n".join(lines[end + 1 :])


def _as_text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _author_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    text = _as_text(value)
    if ";" in text:
        return [p for p in text.split(";") if p.strip()]
    parts = [p for p in text.split(",") if p.strip()]
    # "Knyazev, Oleg" is one person; "Oleg Knyazev, Anna Kagramanova" are two.
    if len(parts) > 1 and all(len(p.split()) >= 2 for p in parts):
        return parts
    return [text] if text.strip() else []


def parse_markdown(text: str) -> Parsed:
    """Parse Markdown (with optional YAML front matter) into sections and blocks."""
    if not isinstance(text, str):
        raise TypeError("parse_markdown expects str; decode the file first")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").lstrip("\ufeff")
    meta, body = _front_matter(text)
    reader = _MarkdownReader(_clean(_as_text(meta.get("title"))))
    for line in _MD_DROP.sub("", body).split("\n"):
        reader.feed(line)
    reader.flush()
    return _result(
        reader.b,
        title=reader.title,
        authors=_author_list(meta.get("authors", meta.get("author"))),
        year=_year(_as_text(meta.get("year", meta.get("date")))),
        journal=_as_text(meta.get("journal")),
        doi=_as_text(meta.get("doi")),
    )


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_JUNK_TAGS = [
    "script", "style", "noscript", "nav", "footer", "aside", "form", "iframe", "svg", "button",
    "template", "object", "embed", "canvas", "select", "textarea", "head", "title", "meta", "link",
]
_JUNK_WORDS = ("cookie", "consent", "banner", "gdpr", "newsletter", "share", "social", "breadcrumb", "menu")
_JUNK_ROLES = {"banner", "navigation", "contentinfo", "search", "complementary", "dialog", "alertdialog"}
# Pages put state classes such as "cookie-banner-open" on these; removing them would empty the page.
_NEVER_JUNK = {"html", "body", "main", "article", "[document]"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_LISTS = {"ul", "ol"}
_BLOCK_TAGS = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "html", "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul",
}
# Link labels that reference lists repeat after every entry (PMC, publisher sites).
_REF_LINK_LABEL = re.compile(
    r"^(?:pubmed|pmc free article|pubmed central|google scholar|crossref|cross ref|scopus|"
    r"web of science|free full text|full text|article|abstract|open in a new tab|view article)$",
    re.IGNORECASE,
)
_YEAR_META = ("citation_publication_date", "citation_date", "dc.date", "citation_online_date",
              "dc.date.issued", "citation_year", "prism.publicationdate")


def _is_text_node(node: object) -> bool:
    # Comments, doctype, processing instructions and script strings are NavigableString
    # subclasses; only real text counts.
    return type(node) in (NavigableString, CData)


def _html_text(node: Tag, skip: frozenset[str] | set[str] = frozenset()) -> str:
    """Text of an element: <br> becomes a newline, block children are spaced, citations marked."""
    parts: list[str] = []
    for child in node.children:
        if isinstance(child, Tag):
            if child.name in skip:
                continue
            if child.name == "br":
                parts.append("\n")
            elif child.name == "sup":
                cited = child.find("a") or child.find_parent("a")
                marker = _ref_marker(child.get_text()) if cited else ""
                parts.append(marker or _superscript(_last(parts), _html_text(child, skip)))
            elif child.name in _BLOCK_TAGS:
                parts.append(f" {_html_text(child, skip)} ")
            else:
                parts.append(_html_text(child, skip))
        elif _is_text_node(child):
            parts.append(str(child))
    return "".join(parts)


def _attr_text(tag: Tag) -> str:
    values: list[str] = []
    for name in ("id", "class"):
        value = tag.get(name)
        values.extend(value if isinstance(value, list) else [value or ""])
    return " ".join(values).lower()


def _remove_junk(soup: BeautifulSoup) -> None:
    """Drop page furniture before any text is read."""
    for tag in soup.find_all(_JUNK_TAGS):
        if not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all("header"):
        # <header> inside an article holds its title and authors; elsewhere it is the site header.
        if not tag.decomposed and tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for tag in soup.find_all(True):
        if tag.decomposed or tag.name in _NEVER_JUNK:
            continue
        attrs = _attr_text(tag)
        role = str(tag.get("role") or "").lower()
        if (any(w in attrs for w in _JUNK_WORDS) or role in _JUNK_ROLES
                or tag.has_attr("hidden") or str(tag.get("aria-hidden") or "").lower() == "true"):
            tag.decompose()
    for link in soup.find_all("a"):
        if not link.decomposed and is_boilerplate(_clean(link.get_text())):
            link.decompose()  # "Download (93KB)", "PDF", "Cite item" links inside a paragraph


def _html_meta(soup: BeautifulSoup) -> dict[str, list[str]]:
    meta: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        name = str(tag.get("name") or tag.get("property") or "").strip().lower()
        content = _clean(str(tag.get("content") or ""))
        if name and content:
            meta.setdefault(name, []).append(content)
    return meta


def _html_list_items(lst: Tag, skip: frozenset[str] = frozenset()) -> list[str]:
    """Items of a ul/ol, nested lists flattened into further items."""
    items: list[str] = []
    for li in lst.find_all("li", recursive=False):
        items.append(_html_text(li, skip | _LISTS))
        for sub in li.find_all(["ul", "ol"]):
            if sub.find_parent("li") is li:
                items.extend(_html_list_items(sub, skip))
    return items


class _HtmlWalker:
    """Walks the cleaned DOM in document order, feeding a _Builder."""

    def __init__(self, title: str) -> None:
        self.b = _Builder()
        self.title = title
        self._title_seen = False

    def walk(self, node: Tag) -> None:
        loose: list[str] = []  # inline text directly inside a container (<div>text<br>more</div>)

        def flush() -> None:
            if loose:
                self.b.paragraph("".join(loose).split("\n"))
                loose.clear()

        for child in node.children:
            if not isinstance(child, Tag):
                if _is_text_node(child):
                    loose.append(str(child))
                continue
            name = child.name
            if name == "br":
                loose.append("\n")
                continue
            if name not in _BLOCK_TAGS and child.find(_BLOCK_TAGS) is None:
                loose.append(_html_text(child))
                continue
            flush()
            self._block(child)
        flush()

    def _block(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            text = _clean(_html_text(tag))
            if name == "h1" and _could_be_title(text, self.title, self._title_seen):
                self._title_seen = True  # the article title, not a section
                self.title = self.title or text
                self.b.heading("")
            elif text:
                self.b.heading(text)
        elif name == "p" and tag.find(_BLOCK_TAGS - {"p"}) is None:
            if self.b.in_references:
                self._strip_ref_links(tag)
            self.b.paragraph(_html_text(tag).split("\n"))
        elif name in _LISTS and tag.find("li", recursive=False) is not None:
            self._list(tag)
        elif name == "table":
            self._table(tag)
        elif name in ("figcaption", "caption"):
            self.b.caption(_html_text(tag))
        elif name == "pre":
            self.b.paragraph([_html_text(tag)])
        elif name != "hr":
            self.walk(tag)

    def _list(self, tag: Tag) -> None:
        if self.b.in_references or "ref" in _attr_text(tag):
            self._strip_ref_links(tag)
            # Numbers come from a printed label or the running position in the list.
            before = self.b.section
            if not self.b.in_references:
                self.b.heading("References")
            for item in _html_list_items(tag):
                self.b.reference_text(item)
            if before != self.b.section:
                self.b.heading(before)
            return
        self.b.list(_html_list_items(tag))

    def _table(self, table: Tag) -> None:
        for cap in table.find_all("caption"):
            if cap.find_parent("table") is table:
                self.b.caption(_html_text(cap))
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue  # rows of a nested table are read with that table's cells
            cells = [_clean(_html_text(c)) for c in row.find_all(["td", "th"], recursive=False)]
            cells = [c for c in cells if c]
            if cells:
                self.b.paragraph([" | ".join(cells)])

    @staticmethod
    def _strip_ref_links(tag: Tag) -> None:
        for link in tag.find_all("a"):
            if not link.decomposed and _REF_LINK_LABEL.match(_clean(link.get_text())):
                link.decompose()


def parse_html(data: bytes) -> Parsed:
    """Parse an HTML article page into sections and blocks, dropping page furniture."""
    try:
        soup = BeautifulSoup(data, "html.parser")
        meta = _html_meta(soup)

        def first(*names: str) -> str:
            return next((meta[n][0] for n in names if n in meta), "")

        title = first("citation_title", "dc.title")
        page_title = soup.title.get_text() if soup.title else ""
        _remove_junk(soup)
        h1 = soup.find("h1")
        title = title or (_clean(_html_text(h1)) if h1 else "") or _clean(page_title)
        mains = soup.find_all("main")
        root = mains[0] if len(mains) == 1 and _clean(mains[0].get_text()) else (soup.body or soup)
        walker = _HtmlWalker(title)
        walker.walk(root)
    except RecursionError as exc:
        raise DocumentError("HTML is nested too deeply to parse") from exc
    except DocumentError:
        raise
    except Exception as exc:  # bs4/html.parser on hostile markup; the caller gets one error type
        raise DocumentError(f"unparseable HTML: {_reason(exc)}") from exc
    year = next((y for n in _YEAR_META for v in meta.get(n, []) if (y := _year(v))), None)
    doi = next((d for n in ("citation_doi", "dc.identifier", "prism.doi") for v in meta.get(n, [])
                if (d := _clean_doi(v))), "")
    return _result(
        walker.b,
        title=walker.title,
        authors=meta.get("citation_author") or meta.get("dc.creator") or [],
        year=year,
        journal=first("citation_journal_title", "prism.publicationname"),
        doi=doi,
    )


# ---------------------------------------------------------------------------------------------
# JATS XML
# ---------------------------------------------------------------------------------------------

# Elements inside <p> that are blocks of their own and are read separately.
_JATS_BLOCKS = {"fig", "fig-group", "table-wrap", "table-wrap-group", "list", "disp-quote",
                "boxed-text", "def-list", "ref-list", "sec"}
_JATS_SECTIONS = {"sec": "", "ack": "Acknowledgements", "app": "Appendix", "fn-group": "Notes"}
_JATS_SKIP = {"label", "title", "caption", "graphic", "media", "alternatives", "object-id",
              "inline-graphic", "disp-formula", "tex-math", "sec-meta"}
_CITATION_TAGS = ("mixed-citation", "element-citation", "citation", "nlm-citation")
_PUB_DATE_ORDER = {"ppub": 0, "collection": 1, "pub": 2, "epub-ppub": 2, "epub": 3}
_XML_PREDEFINED = {"amp", "lt", "gt", "quot", "apos"}


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _strip_namespaces(root: Element) -> None:
    """'{http://...}article' -> 'article', so documents with and without namespaces read alike."""
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = _local(el.tag)
        if any("}" in k for k in el.attrib):
            el.attrib = {_local(k): v for k, v in el.attrib.items()}


def _html_entities_to_numeric(data: bytes) -> bytes:
    """'&nbsp;' -> '&#160;': JATS files use entities their external DTD defines, which is not read."""

    def sub(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode("ascii")
        char = html.entities.html5.get(name + ";")
        if name in _XML_PREDEFINED or not char:
            return m.group(0)
        return "".join(f"&#{ord(c)};" for c in char).encode("ascii")

    return re.sub(rb"&([A-Za-z][A-Za-z0-9]{1,31});", sub, data)


def _parse_xml(data: bytes) -> Element:
    """Parse untrusted XML: entity declarations and external references are refused."""
    if isinstance(data, str):
        data = data.encode("utf-8")

    def parse(raw: bytes) -> Element:
        return SafeET.fromstring(raw, forbid_dtd=False, forbid_entities=True, forbid_external=True)

    try:
        try:
            return parse(data)
        except ParseError as exc:
            if exc.code != expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
                raise
            return parse(_html_entities_to_numeric(data))
    except DefusedXmlException as exc:
        raise DocumentError(f"JATS XML refused: XML entities are not allowed ({type(exc).__name__})") from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = _reason(exc).split(":")[0]
        raise DocumentError(f"invalid XML at line {line}, column {column}: {message}") from exc
    except RecursionError as exc:
        raise DocumentError("XML is nested too deeply to parse") from exc
    except (ValueError, LookupError, TypeError) as exc:  # e.g. an unknown declared encoding
        raise DocumentError(f"invalid XML: {_reason(exc)}") from exc


def _jats_text(el: Element | None, skip: set[str] | frozenset[str] = frozenset()) -> str:
    """Text of an element and its inline children; block children in `skip` are left out."""
    if el is None:
        return ""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in skip or tag == "fn":
            pass
        elif tag == "sup" and any(x.get("ref-type") == "bibr" for x in child.iter("xref")):
            parts.append(_ref_marker("".join(child.itertext())) or _jats_text(child, skip))
        elif tag == "xref" and child.get("ref-type") == "bibr" and child.find("sup") is not None:
            parts.append(_ref_marker("".join(child.itertext())) or _jats_text(child, skip))
        elif tag == "name":  # mixed citations often print <surname>X</surname><given-names>Y</...> unspaced
            names = (_jt(child.find("surname")), _jt(child.find("given-names")))
            parts.append(" ".join(t for t in names if t))
        elif tag == "sup":
            parts.append(_superscript(_last(parts), _jats_text(child, skip)))
        elif tag in ("break", "p", "title"):
            parts.append(f" {_jats_text(child, skip)} ")
        else:
            parts.append(_jats_text(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _jt(el: Element | None) -> str:
    return _clean(_jats_text(el))


def _lang_pick(elements: list[Element]) -> Element | None:
    """The English variant of a translated element, else the first."""
    for el in elements:
        if el.get("lang", "").lower().startswith("en"):
            return el
    return elements[0] if elements else None


def _jats_person(el: Element, initials: bool) -> str:
    """A name/string-name/collab element as 'Given Surname' or 'Surname GN'."""
    if el.tag == "collab":
        return _jt(el)
    surname, given = _jt(el.find("surname")), _jt(el.find("given-names"))
    if not surname:
        return _jt(el)  # a plain string-name
    if initials:
        given = given if re.fullmatch(r"[^\W\d_]{1,3}", given) and given.isupper() else "".join(
            p[0].upper() for p in re.split(r"[\s.\-‐]+", given) if p
        )
        return f"{surname} {given}".strip()
    return f"{given} {surname}".strip()


def _jats_authors(meta: Element) -> list[str]:
    names: list[str] = []
    for group in meta.iter("contrib-group"):
        for contrib in group.findall("contrib"):
            if contrib.get("contrib-type", "author") != "author":
                continue
            alternatives = contrib.find("name-alternatives")
            pool = alternatives if alternatives is not None else contrib
            name = _lang_pick(pool.findall("name")) or _lang_pick(pool.findall("string-name"))
            name = name if name is not None else contrib.find("collab")
            if name is not None and (text := _jats_person(name, initials=False)):
                names.append(text)
    return names


def _jats_year(meta: Element) -> int | None:
    dates = meta.findall("pub-date")
    dates.sort(key=lambda d: _PUB_DATE_ORDER.get(d.get("date-type") or d.get("pub-type") or "", 4))
    return next((y for d in dates if (y := _year(_jt(d.find("year"))))), None)


def _ref_authors(cit: Element) -> str:
    groups = cit.findall("person-group")
    group = next((g for g in groups if g.get("person-group-type") == "author"), groups[0] if groups else cit)
    names: list[str] = []
    for el in group:
        if el.tag in ("name", "string-name", "collab") and (text := _jats_person(el, initials=True)):
            names.append(text)
        elif el.tag == "etal":
            names.append("et al")
    return ", ".join(names)


def _vancouver(authors: str, cit: Element) -> str:
    """Element-citations have no punctuation; compose the usual 'Authors. Title. Source. Year;...' text."""
    title = _jt(cit.find("article-title")) or _jt(cit.find("chapter-title"))
    where = _jt(cit.find("year"))
    volume, issue = _jt(cit.find("volume")), _jt(cit.find("issue"))
    fpage, lpage = _jt(cit.find("fpage")), _jt(cit.find("lpage"))
    if volume:
        where += f";{volume}" + (f"({issue})" if issue else "")
    if fpage:
        where += f":{fpage}" + (f"-{lpage}" if lpage else "")
    doi = next((_jt(p) for p in cit.iter("pub-id") if p.get("pub-id-type") == "doi"), "")
    parts = [authors, title, _jt(cit.find("source")), where]
    text = " ".join(p.rstrip(".") + "." for p in parts if p)
    return f"{text} doi: {doi}" if doi else text


def _jats_reference(ref: Element, position: int) -> Reference:
    label = _jt(ref.find("label"))
    m = re.fullmatch(r"\W*(\d{1,4})\W*", label)
    number = int(m.group(1)) if m else position
    holder = ref.find("citation-alternatives")
    holder = holder if holder is not None else ref
    cit = _lang_pick([c for c in holder if c.tag in _CITATION_TAGS])
    if cit is None:
        return parse_reference(_clean(_jats_text(ref, {"label"})), number)
    authors = _ref_authors(cit)
    raw = _vancouver(authors, cit) if cit.tag == "element-citation" else _jt(cit)
    base = parse_reference(raw, number)
    doi = next((_clean_doi(_jt(p)) for p in cit.iter("pub-id") if p.get("pub-id-type") == "doi"), "")
    return replace(
        base,
        authors=authors or base.authors,
        title=_jt(cit.find("article-title")) or _jt(cit.find("chapter-title")) or base.title,
        journal=_jt(cit.find("source")) or base.journal,
        year=_year(_jt(cit.find("year"))) or base.year,
        doi=doi or base.doi,
    )


def _caption_text(caption: Element | None) -> str:
    """'<title>Endoscopy</title><p>Ileum.</p>' -> 'Endoscopy. Ileum.'"""
    if caption is None:
        return ""
    parts = [t for t in (_jt(c) for c in caption if c.tag in ("title", "p")) if t] or [_jt(caption)]
    return " ".join(p if p[-1] in ".:!?" else p + "." for p in parts if p)


class _JatsWalker:
    """Reads abstract, body and back matter of a JATS article into a _Builder."""

    def __init__(self) -> None:
        self.b = _Builder()

    def walk(self, el: Element, path: list[str]) -> None:
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _JATS_SECTIONS:
                title = _jt(child.find("title")) or _JATS_SECTIONS[tag]
                inner = path + [title] if title else path
                self.b.heading(" › ".join(inner))
                self.walk(child, inner)
                self.b.heading(" › ".join(path))  # text after a subsection belongs to the parent
            elif tag == "p":
                self.b.paragraph([_jats_text(child, _JATS_BLOCKS)])
                self.walk_blocks(child, path)
            elif tag == "list":
                self.b.list(self._list_items(child))
            elif tag in ("fig", "table-wrap"):
                self._float(child)
            elif tag == "ref-list":
                self._references(child, path)
            elif tag not in _JATS_SKIP:
                self.walk(child, path)

    def walk_blocks(self, p: Element, path: list[str]) -> None:
        """Blocks nested in a <p> (figures, lists, quotes) come after the paragraph's text."""
        for child in p:
            if child.tag in _JATS_BLOCKS:
                holder = Element("wrapper")
                holder.append(child)
                self.walk(holder, path)

    def _list_items(self, lst: Element) -> list[str]:
        items: list[str] = []
        for item in lst.findall("list-item"):
            items.append(_clean(_jats_text(item, {"list", "label"})))
            for sub in [*item.findall("list"), *item.findall("p/list")]:
                items.extend(self._list_items(sub))
        return items

    def _float(self, el: Element) -> None:
        label, caption = _jt(el.find("label")), _caption_text(el.find("caption"))
        if label and caption:
            self.b.caption(f"{label}{'' if label[-1] in '.:' else '.'} {caption}")
        elif label or caption:
            self.b.caption(label or caption)
        for table in el.iter("table"):
            for row in table.iter("tr"):
                cells = [c for c in (_jt(cell) for cell in row if cell.tag in ("td", "th")) if c]
                if cells:
                    self.b.paragraph([" | ".join(cells)])

    def _references(self, ref_list: Element, path: list[str]) -> None:
        section = _jt(ref_list.find("title")) or "References"
        self.b.heading(section)
        position = 0
        for child in ref_list:
            if child.tag == "ref":
                ref = _jats_reference(child, position + 1)
                position = ref.number
                self.b.add_reference(ref, section=section)
            elif child.tag == "ref-list":
                self._references(child, path)
                self.b.heading(section)
        self.b.heading(" › ".join(path))


def parse_jats(data: bytes) -> Parsed:
    """Parse a JATS (NLM/PMC) XML article; entity declarations are refused."""
    root = _parse_xml(data)
    _strip_namespaces(root)
    article = root if root.tag == "article" else next(root.iter("article"), None)
    if article is None:
        raise DocumentError(f"not a JATS article: the root element is <{root.tag}>, no <article> inside")
    try:
        return _read_jats(article)
    except RecursionError as exc:
        raise DocumentError("JATS XML is nested too deeply to parse") from exc


def _read_jats(article: Element) -> Parsed:
    """Metadata from <front>, blocks from abstract, keywords, body, back matter and floats."""
    front = article.find("front")
    meta = front.find("article-meta") if front is not None else None
    journal_meta = front.find("journal-meta") if front is not None else None
    walker = _JatsWalker()
    b = walker.b
    if meta is not None:
        for abstract in meta.findall("abstract"):
            b.heading("Abstract")
            walker.walk(abstract, ["Abstract"])
        for group in meta.findall("kwd-group"):
            words = [k for k in (_jt(kwd) for kwd in group.iter("kwd")) if k]
            if words:
                b.heading("Keywords")
                b.paragraph(["; ".join(words)])
    for part in ("body", "back", "floats-group"):
        el = article.find(part)
        if el is not None:
            b.heading("")
            walker.walk(el, [])
    title_group = meta.find("title-group") if meta is not None else None
    journal = next(journal_meta.iter("journal-title"), None) if journal_meta is not None else None
    doi = ""
    if meta is not None:
        doi = next((_jt(a) for a in meta.findall("article-id") if a.get("pub-id-type") == "doi"), "")
    return _result(
        b,
        title=_jt(title_group.find("article-title")) if title_group is not None else "",
        authors=_jats_authors(meta) if meta is not None else [],
        year=_jats_year(meta) if meta is not None else None,
        journal=_jt(journal),
        doi=doi,
    )


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

# Producer defaults that are not titles.
_JUNK_PDF_TITLE = re.compile(
    r"^(?:untitled.*|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|tex|indd|rtf|odt|qxd))$",
    re.IGNORECASE,
)


def _open_pdf(data: bytes) -> PdfReader:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("parse_pdf expects bytes")
    try:
        reader = PdfReader(io.BytesIO(bytes(data)))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many types on damaged files
        raise DocumentError(f"corrupt or unreadable PDF: {_reason(exc)}") from exc
    if encrypted:
        try:
            opened = reader.decrypt("")  # many PDFs are "encrypted" only to restrict printing
        except Exception as exc:  # e.g. AES without the 'cryptography' package
            raise DocumentError(f"encrypted PDF cannot be decrypted: {_reason(exc)}") from exc
        if not opened:
            raise DocumentError("encrypted PDF: a password is required to open it")
    return reader


def _pdf_title(reader: PdfReader) -> str:
    try:
        title = _clean(str(reader.metadata.title or "")) if reader.metadata else ""
    except Exception:  # a damaged info dictionary only costs us the title
        return ""
    return "" if _JUNK_PDF_TITLE.match(title) else title


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers/footers and page numbers: lines repeated at the edges of most pages.

    A line counts as running when the same text sits at a page edge on at least half the pages
    (and three), or when only its numbers change and one of them moves with the page number
    ("Page 3 of 10", "Gut 2024;73:1571"), which keeps body lines such as "Week 12" safe.
    """
    if len(pages) < 3:
        return pages

    def edges(lines: list[str]) -> list[int]:
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        return sorted(set(filled[:2] + filled[-2:]))

    split = [p.split("\n") for p in pages]
    # key (text with digits as '#') -> {page index: offsets of its numbers from that index}
    seen: dict[str, dict[int, set[int]]] = {}
    exact: dict[str, set[int]] = {}
    for index, lines in enumerate(split):
        for i in edges(lines):
            text = _clean(lines[i]).lower()
            offsets = {int(n) - index for n in re.findall(r"\d{1,6}", text)}
            seen.setdefault(re.sub(r"\d+", "#", text), {}).setdefault(index, set()).update(offsets)
            exact.setdefault(text, set()).add(index)
    needed = max(3, (len(pages) + 1) // 2)
    running = {t for t, where in exact.items() if len(where) >= needed}
    numbered = {k for k, where in seen.items()
                if len(where) >= needed and set.intersection(*where.values())}
    out = []
    for lines in split:
        texts = {i: _clean(lines[i]).lower() for i in edges(lines)}
        drop = {i for i, t in texts.items() if t in running or re.sub(r"\d+", "#", t) in numbered}
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop))
    return out


def _parse_pdf_page(text: str, page: int, carried: str) -> Parsed:
    """One page through the plain-text parser, continuing the previous page's section."""
    parsed = parse_plain_text(text, page=page, first_line_title=(page == 1))
    key = _section_key(carried)
    replayed = ""
    if page > 1 and parsed.blocks and parsed.blocks[0].section == "" and (
        key in REFERENCE_SECTIONS or key in AUTHOR_SECTIONS
    ):
        # References and author records are recognised by their section, so replay the heading
        # of the previous page before the text (a blank line keeps it a heading of its own).
        replayed = carried if key in KNOWN_SECTIONS else "References"
        parsed = parse_plain_text(f"{replayed}\n\n{text}", page=page, first_line_title=False)
    blocks: list[Block] = []
    leading = page > 1
    for b in parsed.blocks:
        if b.kind != "caption":  # captions live in "Figures" wherever they are printed
            leading = leading and b.section == ""
        section = b.section
        if (leading and b.kind != "caption") or (replayed and section == replayed):
            section = carried
        blocks.append(replace(b, section=section, page=page))  # author records come back page-less
    return replace(parsed, blocks=tuple(blocks))


def parse_pdf(data: bytes) -> Parsed:
    """Parse a text PDF page by page; scanned, encrypted or damaged PDFs raise DocumentError."""
    reader = _open_pdf(data)
    try:
        count = len(reader.pages)
    except Exception as exc:
        raise DocumentError(f"corrupt PDF page tree: {_reason(exc)}") from exc
    if count == 0:
        raise DocumentError("PDF has no pages")
    if count > MAX_PDF_PAGES:
        raise DocumentError(f"PDF has {count} pages; at most {MAX_PDF_PAGES} are parsed")
    texts: list[str] = []
    for number in range(1, count + 1):
        try:
            texts.append(reader.pages[number - 1].extract_text() or "")
        except Exception as exc:
            raise DocumentError(f"cannot extract text from PDF page {number}: {_reason(exc)}") from exc
    if not any(t.strip() for t in texts):
        raise DocumentError("no extractable text (scanned PDF?); run OCR first")
    texts = _drop_running_lines(texts)
    blocks: list[Block] = []
    first_line = ""
    section = ""
    for number, text in enumerate(texts, start=1):
        page = _parse_pdf_page(text, number, section)
        if number == 1:
            first_line = page.title
        blocks.extend(page.blocks)
        body = [b for b in page.blocks if b.kind != "caption"]
        if body:
            section = body[-1].section
    page_one = " ".join(b.text for b in blocks if b.page == 1 and b.kind != "reference")
    doi = _DOI.search(page_one)
    return Parsed(
        blocks=tuple(blocks),
        title=_pdf_title(reader) or _clean(first_line),
        authors=authors_from_blocks(tuple(blocks)),
        doi=_clean_doi(doi.group(1)) if doi else "",
    )
