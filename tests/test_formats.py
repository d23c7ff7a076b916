"""Tests for qa.formats: Markdown, HTML, JATS XML and PDF into sections and blocks."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from qa import formats
from qa.formats import DocumentError, parse_html, parse_jats, parse_markdown, parse_pdf
from qa.textparse import Parsed
from qa.types import Block

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TURNER = (
    "Turner D, Ricciuto A, Lewis A, et al. STRIDE-II: An Update on the Selecting Therapeutic "
    "Targets in Inflammatory Bowel Disease. Gastroenterology. 2021;160(5):1570-83. "
    "doi: 10.1053/j.gastro.2020.12.031"
)
HAIDER = (
    "Haider M, Lashner B. Dual Targeted Therapy for the Management of Inflammatory Bowel Disease. "
    "J Clin Gastroenterol. 2021;55(8):661-6. doi: 10.1097/MCG.0000000000001583"
)
MIYATANI = (
    "Miyatani Y, Choi D, Choi NK, Rubin DT. Dual-Targeted Therapy with Upadacitinib and Ustekinumab "
    "in Medically Complex Crohn's Disease. Dig Dis Sci. 2024;69(2):355-9."
)


def tokens(alphabet: list[str], max_size: int = 120) -> st.SearchStrategy[str]:
    """Strings built from markup fragments, so the fuzzers reach the parsers' inner paths."""
    return st.lists(st.sampled_from(alphabet), max_size=max_size).map("".join)


def texts(parsed: Parsed, kind: str | None = None) -> list[str]:
    return [b.text for b in parsed.blocks if kind is None or b.kind == kind]


def all_text(parsed: Parsed) -> str:
    return "\n".join(b.text for b in parsed.blocks)


def only(parsed: Parsed, needle: str) -> Block:
    found = [b for b in parsed.blocks if needle in b.text]
    assert len(found) == 1, (needle, parsed.blocks)
    return found[0]


def refs(parsed: Parsed) -> list[Block]:
    return [b for b in parsed.blocks if b.kind == "reference"]


def assert_turner_haider(parsed: Parsed) -> None:
    """Two references, each its own block, with the right fields."""
    r = refs(parsed)
    assert [b.reference.number for b in r if b.reference] == [1, 2]
    first, second = (b.reference for b in r)
    assert first is not None and second is not None
    assert first.year == 2021 and first.doi == "10.1053/j.gastro.2020.12.031"
    assert first.authors.startswith("Turner D, Ricciuto A") and first.authors.endswith("et al")
    assert first.journal == "Gastroenterology"
    assert second.authors == "Haider M, Lashner B"
    assert second.doi == "10.1097/MCG.0000000000001583" and second.year == 2021
    assert "Dual Targeted Therapy" in second.title
    assert all(b.section == "References" for b in r)


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

MARKDOWN = f"""---
title: "Combination therapy of Crohn's disease"
authors:
  - Oleg V. Knyazev
  - name: Anna V. Kagramanova
    affiliation: Loginov Moscow Clinical Scientific Center
year: 2025
journal: Consilium Medicum  # publisher
doi: https://doi.org/10.26442/20751753.2025.5.203189
---

# Combination therapy of Crohn's disease

Cite item

Dual biological therapy is the simultaneous use of two
biological drugs in **Crohn's disease** (see [the STRIDE-II update](https://doi.org/10.1053/j.gastro(1)) and ![endoscopy](fig1.png)).
<!-- editor's note: remove before publishing -->

## Methods

Patients received:

- upadacitinib 45 mg
- *ustekinumab* 90 mg every
  8 weeks

Download (93KB)

### Scores

| Score | Week 0 | Week 26 |
|-------|--------|---------|
| SES-CD | 12 | 0 |

## References

1. {TURNER}
2. {HAIDER}
"""


def test_markdown_headings_become_sections() -> None:
    p = parse_markdown(MARKDOWN)
    assert only(p, "simultaneous use").section == ""
    assert only(p, "upadacitinib 45 mg").section == "Methods"
    assert only(p, "SES-CD").section == "Scores"
    # The title heading is metadata, not a section.
    assert "Combination therapy of Crohn's disease" not in {b.section for b in p.blocks}


def test_markdown_first_h1_is_title_without_front_matter() -> None:
    p = parse_markdown("# Upadacitinib after failure\n\n## Background\n\nText here.\n\n# Second h1\n\nMore.\n")
    assert p.title == "Upadacitinib after failure"
    assert only(p, "Text here").section == "Background"
    assert only(p, "More.").section == "Second h1"


def test_markdown_setext_headings() -> None:
    p = parse_markdown("Title line\n==========\n\nResults\n-------\n\nAll patients improved.\n")
    assert p.title == "Title line"
    assert only(p, "improved").section == "Results"


def test_markdown_list_keeps_lead_in() -> None:
    p = parse_markdown(MARKDOWN)
    lst = only(p, "upadacitinib 45 mg")
    assert lst.kind == "list"
    assert lst.text == "Patients received:\n- upadacitinib 45 mg\n- ustekinumab 90 mg every 8 weeks"


def test_markdown_list_without_blank_line_and_numbered() -> None:
    p = parse_markdown("Steps to follow:\n1. induction\n2. maintenance\n\nA paragraph.\n")
    assert texts(p, "list") == ["Steps to follow:\n- induction\n- maintenance"]
    assert texts(p, "paragraph") == ["A paragraph."]


def test_markdown_wrapped_line_starting_with_a_number_is_not_a_list() -> None:
    p = parse_markdown("Remission was first reported in\n2019. Since then it held.\n")
    assert texts(p) == ["Remission was first reported in 2019. Since then it held."]


def test_markdown_lead_in_needs_colon() -> None:
    p = parse_markdown("Not a lead-in.\n\n- one\n- two\n")
    assert texts(p, "paragraph") == ["Not a lead-in."]
    assert texts(p, "list") == ["- one\n- two"]


def test_markdown_wrapped_lines_joined_and_inline_syntax_stripped() -> None:
    p = parse_markdown(MARKDOWN)
    para = only(p, "simultaneous use")
    assert para.text == (
        "Dual biological therapy is the simultaneous use of two biological drugs in Crohn's disease "
        "(see the STRIDE-II update and )."
    )
    body = all_text(p)
    assert "https://" not in body and "fig1.png" not in body and "endoscopy" not in body
    assert "editor's note" not in body and "**" not in body


def test_markdown_code_and_escapes_are_literal() -> None:
    p = parse_markdown(r"Use `snake_case_name` and 2 \* 3 \* 4, not _emphasis_ here.")
    assert texts(p) == ["Use snake_case_name and 2 * 3 * 4, not emphasis here."]


def test_markdown_boilerplate_dropped() -> None:
    body = all_text(parse_markdown(MARKDOWN))
    assert "Cite item" not in body and "Download" not in body


def test_markdown_table_rows_are_paragraphs() -> None:
    p = parse_markdown(MARKDOWN)
    assert "Score | Week 0 | Week 26" in texts(p, "paragraph")
    assert "SES-CD | 12 | 0" in texts(p, "paragraph")
    assert not any("---" in t for t in texts(p))


def test_markdown_references_one_block_each() -> None:
    assert_turner_haider(parse_markdown(MARKDOWN))


def test_markdown_bracketed_references_in_one_paragraph() -> None:
    p = parse_markdown(f"## Bibliography\n\n[1] {TURNER}\n[2] {HAIDER}\n")
    assert len(refs(p)) == 2
    assert [b.section for b in refs(p)] == ["Bibliography", "Bibliography"]
    assert refs(p)[1].reference.doi == "10.1097/MCG.0000000000001583"  # type: ignore[union-attr]


def test_markdown_lazily_numbered_references_use_position() -> None:
    p = parse_markdown(f"# References\n\n1. {TURNER}\n1. {HAIDER}\n1. {MIYATANI}\n")
    assert [b.reference.number for b in refs(p)] == [1, 2, 3]  # type: ignore[union-attr]
    assert refs(p)[2].reference.year == 2024  # type: ignore[union-attr]


def test_markdown_front_matter_fills_metadata() -> None:
    p = parse_markdown(MARKDOWN)
    assert p.title == "Combination therapy of Crohn's disease"
    assert p.authors == ("Oleg V. Knyazev", "Anna V. Kagramanova")
    assert p.year == 2025
    assert p.journal == "Consilium Medicum"
    assert p.doi == "10.26442/20751753.2025.5.203189"
    assert "Loginov" not in all_text(p) and "title:" not in all_text(p)


def test_markdown_front_matter_inline_forms() -> None:
    p = parse_markdown("---\ntitle: Short\nauthor: [\"Smith, John\", Jane Doe]\ndate: 2019-03-01\n---\nBody.\n")
    assert (p.title, p.authors, p.year) == ("Short", ("Smith, John", "Jane Doe"), 2019)
    assert texts(p) == ["Body."]


def test_markdown_thematic_break_is_not_front_matter() -> None:
    p = parse_markdown("---\nFirst paragraph.\n\n---\n\nSecond paragraph.\n")
    assert texts(p) == ["First paragraph.", "Second paragraph."]
    assert p.title == ""


def test_markdown_html_script_and_captions() -> None:
    p = parse_markdown("Text <script>alert(1)</script>after.\n\n*Figure 1.* Endoscopic view.\n")
    assert "alert" not in all_text(p)
    assert texts(p, "caption") == ["Figure 1. Endoscopic view."]
    assert p.blocks[-1].section == "Figures"


def test_markdown_corpus_file_title_not_a_section() -> None:
    path = Path(__file__).resolve().parents[1] / "corpus" / "fda_rinvoq_label_limitations_of_use.md"
    if not path.exists():
        pytest.skip("corpus file not present")
    p = parse_markdown(path.read_text(encoding="utf-8"))
    assert p.title.startswith("RINVOQ (upadacitinib) prescribing information")
    assert only(p, "not recommended for use in combination").section == "Limitations of Use"


@FUZZ
@given(tokens(list("#-*_`[]()!<>|:\n =~1.abc\\") + ["---\n", "```", "<!--", "\n\n", "1. ", "- "])
       | st.text(max_size=300))
def test_markdown_never_crashes(text: str) -> None:
    try:
        result = parse_markdown(text)
    except DocumentError:
        return
    assert isinstance(result, Parsed)
    assert all(isinstance(b, Block) and b.text for b in result.blocks)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

HTML = f"""<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Combination therapy | Consilium Medicum</title>
<meta name="citation_title" content="Combination therapy of Crohn's disease: clinical cases">
<meta name="citation_author" content="Knyazev, Oleg V.">
<meta name="citation_author" content="Kagramanova, Anna V.">
<meta name="citation_publication_date" content="2025/05/20">
<meta name="citation_journal_title" content="Consilium Medicum">
<meta name="citation_doi" content="10.26442/20751753.2025.5.203189">
<script>alert(1)</script>
<style>.x {{ color: red }}</style>
</head>
<body class="has-cookie-banner">
<header class="site"><a href="/">Journal home</a></header>
<nav><ul><li>Archive</li><li>Submissions</li></ul></nav>
<div id="cookie-consent">We use cookies to give you the best experience. <button>Accept all</button></div>
<div class="gdpr-note">Analytics notice text</div>
<main>
<article>
<h1>Combination therapy of Crohn's disease: clinical cases</h1>
<div class="social-share">Tweet this article</div>
<div>Cite item</div>
<h2>Abstract</h2>
<p>Dual   biological therapy
   was effective<sup><a href="#ref1">1,3</a></sup> with 10<sup>9</sup> cells.</p>
<h2>Treatment</h2>
<p>Patients received:</p>
<ul>
  <li>upadacitinib <b>45 mg</b></li>
  <li>ustekinumab<ul><li>90 mg every 8 weeks</li></ul></li>
</ul>
<figure><img src="f1.png" onerror="alert(2)"><figcaption>Fig. 1. Endoscopic image of the terminal ileum.</figcaption></figure>
<p><a href="/article/download/1">Download (93KB)</a></p>
<table><caption>Table 1. Scores</caption>
<tr><th>Score</th><th>Week 0</th><th>Week 26</th></tr>
<tr><td>SES-CD</td><td>12</td><td>0</td></tr>
</table>
<p>See <a href="javascript:alert(3)">the label</a> for details.</p>
<h2>References</h2>
<ol>
<li>{TURNER} <a href="https://pubmed">PubMed</a> <a href="https://scholar">Google Scholar</a></li>
<li>{HAIDER}</li>
</ol>
</article>
</main>
<aside>Most read articles</aside>
<footer>Copyright (c) 2025 Consilium Medicum</footer>
<script>document.write("injected")</script>
</body></html>
""".encode()


def test_html_metadata() -> None:
    p = parse_html(HTML)
    assert p.title == "Combination therapy of Crohn's disease: clinical cases"
    assert p.authors == ("Knyazev, Oleg V.", "Kagramanova, Anna V.")
    assert p.year == 2025
    assert p.journal == "Consilium Medicum"
    assert p.doi == "10.26442/20751753.2025.5.203189"


def test_html_title_falls_back_to_h1_then_title_tag() -> None:
    assert parse_html(b"<title>Tab title</title><h1>Heading title</h1><p>x</p>").title == "Heading title"
    assert parse_html(b"<html><head><title>Tab  title</title></head><body><p>x</p></body></html>").title == "Tab title"


def test_html_headings_become_sections() -> None:
    p = parse_html(HTML)
    assert only(p, "Dual biological therapy").section == "Abstract"
    assert only(p, "upadacitinib 45 mg").section == "Treatment"
    assert "Combination therapy of Crohn's disease: clinical cases" not in {b.section for b in p.blocks}


def test_html_text_is_whitespace_normalised_with_citation_markers() -> None:
    p = parse_html(HTML)
    assert only(p, "Dual biological").text == "Dual biological therapy was effective (ref. 1, 3) with 10^9 cells."


def test_html_list_keeps_lead_in_and_flattens_nested_items() -> None:
    lst = only(parse_html(HTML), "upadacitinib 45 mg")
    assert lst.kind == "list"
    assert lst.text == "Patients received:\n- upadacitinib 45 mg\n- ustekinumab\n- 90 mg every 8 weeks"


def test_html_list_without_lead_in() -> None:
    p = parse_html(b"<p>A sentence.</p><ul><li>one</li><li>two</li></ul>")
    assert texts(p) == ["A sentence.", "- one\n- two"]


def test_html_references_one_block_each() -> None:
    p = parse_html(HTML)
    assert_turner_haider(p)
    assert "PubMed" not in all_text(p) and "Google Scholar" not in all_text(p)


def test_html_reference_list_found_by_class() -> None:
    p = parse_html(f"<h2>Discussion</h2><p>Text.</p><ol class='ref-list'><li>{TURNER}</li><li>{HAIDER}</li></ol>"
                   "<p>After.</p>".encode())
    assert_turner_haider(p)
    assert only(p, "After.").section == "Discussion"


def test_html_reference_paragraphs_in_reference_section() -> None:
    p = parse_html(f"<h3>References</h3><p>1. {TURNER}</p><p>2. {HAIDER}</p>".encode())
    assert_turner_haider(p)


def test_html_cookie_banner_and_download_link_dropped() -> None:
    body = all_text(parse_html(HTML))
    for furniture in ("cookies", "Accept all", "Analytics notice", "Download", "93KB", "Cite item",
                      "Tweet this", "Journal home", "Archive", "Most read", "Copyright"):
        assert furniture not in body, furniture


def test_html_download_link_inside_paragraph_dropped() -> None:
    p = parse_html(b"<p>Supplementary data for patient 1 <a href='/f/1'>Download (93KB)</a> <a href='/p'>PDF</a></p>")
    assert texts(p) == ["Supplementary data for patient 1"]


def test_html_script_never_in_blocks() -> None:
    p = parse_html(HTML)
    body = all_text(p)
    assert "alert" not in body and "document.write" not in body and "injected" not in body
    assert "color: red" not in body and "javascript" not in body
    assert only(p, "for details").text == "See the label for details."


def test_html_script_inside_content_never_in_blocks() -> None:
    p = parse_html(b"<p>Before <script>alert(1)</script> after<noscript>enable js</noscript>.</p>"
                   b"<!-- <script>alert(4)</script> --><p>&lt;b&gt;escaped&lt;/b&gt;</p>")
    assert texts(p) == ["Before after.", "<b>escaped</b>"]


def test_html_captions_and_table_rows() -> None:
    p = parse_html(HTML)
    assert texts(p, "caption") == ["Fig. 1. Endoscopic image of the terminal ileum.", "Table 1. Scores"]
    assert all(b.section == "Figures" for b in p.blocks if b.kind == "caption")
    assert "Score | Week 0 | Week 26" in texts(p, "paragraph")
    assert "SES-CD | 12 | 0" in texts(p, "paragraph")


def test_html_declared_charset_is_honoured() -> None:
    page = "<meta charset='windows-1251'><p>Болезнь Крона</p>".encode("cp1251")
    assert texts(parse_html(page)) == ["Болезнь Крона"]


def test_html_deep_nesting_is_handled() -> None:
    page = b"<div>" * 3000 + b"<p>deep</p>" + b"</div>" * 3000
    try:
        result = parse_html(page)
    except DocumentError as exc:
        assert "nested" in str(exc)
    else:
        assert texts(result) == ["deep"]


@FUZZ
@given(st.binary(max_size=400)
       | tokens(list("<>/=\"' abcdiv!-&;#x") + ["<p>", "<ol>", "<li>", "<h2>", "<script>", "<table>", "<tr>",
                                                  "<td>", "<![CDATA[", "<!--", "<sup>", "<a href='#'>"]).map(str.encode))
def test_html_never_crashes(data: bytes) -> None:
    try:
        result = parse_html(data)
    except DocumentError:
        return
    assert isinstance(result, Parsed)
    assert all(b.text for b in result.blocks)


# ---------------------------------------------------------------------------------------------
# JATS XML
# ---------------------------------------------------------------------------------------------

JATS_BODY = """
<front>
  <journal-meta><journal-title-group><journal-title>Digestive Diseases and Sciences</journal-title></journal-title-group></journal-meta>
  <article-meta>
    <article-id pub-id-type="pmid">37000000</article-id>
    <article-id pub-id-type="doi">10.1007/s10620-023-08182-y</article-id>
    <title-group><article-title>Dual-Targeted Therapy with <italic>Upadacitinib</italic> and Ustekinumab</article-title></title-group>
    <contrib-group>
      <contrib contrib-type="author"><name><surname>Miyatani</surname><given-names>Yusuke</given-names></name></contrib>
      <contrib contrib-type="author"><name><surname>Rubin</surname><given-names>David T.</given-names></name></contrib>
      <contrib contrib-type="editor"><name><surname>Editor</surname><given-names>Some</given-names></name></contrib>
    </contrib-group>
    <pub-date pub-type="epub"><day>1</day><month>12</month><year>2023</year></pub-date>
    <pub-date pub-type="ppub"><month>2</month><year>2024</year></pub-date>
    <abstract><p>Some patients&nbsp;need two advanced therapies<sup><xref ref-type="bibr" rid="B1">1</xref></sup>.</p></abstract>
  </article-meta>
</front>
<body>
  <sec><title>Methods</title>
    <p>Patients received:</p>
    <list list-type="bullet"><list-item><p>upadacitinib 45 mg</p></list-item><list-item><p>ustekinumab 90 mg</p></list-item></list>
    <sec><title>Endoscopy</title>
      <p>SES-CD was scored.<fig id="f1"><label>Figure 1</label><caption><title>Terminal ileum</title><p>Healed mucosa.</p></caption><graphic xlink:href="f1.jpg"/></fig></p>
    </sec>
    <p>Follow-up lasted 26 weeks.</p>
    <table-wrap id="t1"><label>Table 1</label><caption><p>Baseline characteristics</p></caption>
      <table><tr><th>Patient</th><th>Age</th></tr><tr><td>1</td><td>34</td></tr></table></table-wrap>
  </sec>
</body>
<back>
  <ref-list><title>References</title>
    <ref id="B1"><label>1</label><element-citation publication-type="journal">
      <person-group person-group-type="author"><name><surname>Turner</surname><given-names>D</given-names></name><name><surname>Ricciuto</surname><given-names>Amanda</given-names></name><etal/></person-group>
      <article-title>STRIDE-II: An Update on the Selecting Therapeutic Targets</article-title><source>Gastroenterology</source>
      <year>2021</year><volume>160</volume><issue>5</issue><fpage>1570</fpage><lpage>1583</lpage>
      <pub-id pub-id-type="doi">10.1053/j.gastro.2020.12.031</pub-id></element-citation></ref>
    <ref id="B2"><label>2</label><mixed-citation publication-type="journal"><person-group person-group-type="author"><name><surname>Haider</surname><given-names>M</given-names></name>, <name><surname>Lashner</surname><given-names>B</given-names></name></person-group>. <article-title>Dual Targeted Therapy for the Management of Inflammatory Bowel Disease</article-title>. <source>J Clin Gastroenterol</source>. <year>2021</year>;55(8):661-6. doi: <pub-id pub-id-type="doi">10.1097/MCG.0000000000001583</pub-id></mixed-citation></ref>
  </ref-list>
</back>
"""
JATS_PLAIN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN" '
    '"JATS-archivearticle1.dtd">\n'
    '<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="case-report">'
    + JATS_BODY + "</article>"
).encode()
# The same article with a default namespace on every element.
JATS_NAMESPACED = (
    '<?xml version="1.0"?><article xmlns="http://jats.nlm.nih.gov/ns/archiving/1.2/" '
    'xmlns:xlink="http://www.w3.org/1999/xlink">' + JATS_BODY + "</article>"
).encode()
# ... and with a prefix, wrapped in a PMC article set.
JATS_PREFIXED = (
    '<?xml version="1.0"?><pmc-articleset><j:article xmlns:j="http://jats.nlm.nih.gov/ns" '
    'xmlns:xlink="http://www.w3.org/1999/xlink">'
    + JATS_BODY.replace("<", "<j:").replace("<j:/", "</j:")
    + "</j:article></pmc-articleset>"
).encode()


@pytest.mark.parametrize("data", [JATS_PLAIN, JATS_NAMESPACED, JATS_PREFIXED], ids=["plain", "default-ns", "prefixed"])
def test_jats_metadata(data: bytes) -> None:
    p = parse_jats(data)
    assert p.title == "Dual-Targeted Therapy with Upadacitinib and Ustekinumab"
    assert p.authors == ("Yusuke Miyatani", "David T. Rubin")
    assert p.year == 2024  # the print date, not the earlier e-pub date
    assert p.journal == "Digestive Diseases and Sciences"
    assert p.doi == "10.1007/s10620-023-08182-y"


@pytest.mark.parametrize("data", [JATS_PLAIN, JATS_NAMESPACED, JATS_PREFIXED], ids=["plain", "default-ns", "prefixed"])
def test_jats_structure(data: bytes) -> None:
    p = parse_jats(data)
    assert only(p, "advanced therapies").section == "Abstract"
    assert only(p, "advanced therapies").text == "Some patients need two advanced therapies (ref. 1)."
    lst = only(p, "upadacitinib 45 mg")
    assert (lst.kind, lst.section) == ("list", "Methods")
    assert lst.text == "Patients received:\n- upadacitinib 45 mg\n- ustekinumab 90 mg"
    assert only(p, "SES-CD was scored").section == "Methods › Endoscopy"
    assert only(p, "Follow-up lasted").section == "Methods"  # back in the parent after the subsection
    assert texts(p, "caption") == ["Figure 1. Terminal ileum. Healed mucosa.", "Table 1. Baseline characteristics."]
    assert "Patient | Age" in texts(p, "paragraph")


@pytest.mark.parametrize("data", [JATS_PLAIN, JATS_NAMESPACED, JATS_PREFIXED], ids=["plain", "default-ns", "prefixed"])
def test_jats_references_structured(data: bytes) -> None:
    p = parse_jats(data)
    assert_turner_haider(p)
    first = refs(p)[0].reference
    assert first is not None
    assert first.authors == "Turner D, Ricciuto A, et al"
    assert first.title == "STRIDE-II: An Update on the Selecting Therapeutic Targets"
    assert first.raw.startswith("Turner D, Ricciuto A, et al. STRIDE-II")  # punctuation composed
    assert "2021;160(5):1570-1583" in first.raw
    assert refs(p)[1].text.startswith("Haider M, Lashner B. Dual Targeted Therapy")


def test_jats_reference_numbers_from_label_or_position() -> None:
    doc = ("<article><back><ref-list>"
           "<ref><label>[7]</label><mixed-citation>A B. One. J. 2001.</mixed-citation></ref>"
           "<ref><mixed-citation>C D. Two. J. 2002.</mixed-citation></ref>"
           "<ref><label>Smith 2003</label><mixed-citation>E F. Three. J. 2003.</mixed-citation></ref>"
           "</ref-list></back></article>").encode()
    assert [b.reference.number for b in refs(parse_jats(doc))] == [7, 8, 9]  # type: ignore[union-attr]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<article><body><p>&lol9;</p></body></article>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<article><body><p>&xxe;</p></body></article>"""
EXTERNAL_PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE article [<!ENTITY % remote SYSTEM "http://example.invalid/evil.dtd"> %remote;]>
<article><body><p>x</p></body></article>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_PARAMETER_ENTITY],
                         ids=["billion-laughs", "external-entity", "external-parameter-entity"])
def test_jats_entities_refused(data: bytes) -> None:
    with pytest.raises(DocumentError, match="refused: XML entities are not allowed"):
        parse_jats(data)


def test_jats_invalid_xml_names_line_and_column() -> None:
    with pytest.raises(DocumentError, match=r"invalid XML at line 3, column \d+"):
        parse_jats(b"<article>\n<body>\n<p>open</body>\n</article>")


@pytest.mark.parametrize("data", [b"", b"not xml at all", b"\xff\xfe\x00garbage"])
def test_jats_garbage_is_document_error(data: bytes) -> None:
    with pytest.raises(DocumentError):
        parse_jats(data)


def test_jats_other_xml_is_not_an_article() -> None:
    with pytest.raises(DocumentError, match="not a JATS article"):
        parse_jats(b"<rss><channel><title>x</title></channel></rss>")


def test_jats_deep_nesting_is_handled() -> None:
    doc = b"<article><body>" + b"<sec><title>t</title>" * 2500 + b"<p>deep</p>" + b"</sec>" * 2500 + b"</body></article>"
    try:
        result = parse_jats(doc)
    except DocumentError as exc:
        assert "nested" in str(exc)
    else:
        assert "deep" in texts(result)


@FUZZ
@given(st.binary(max_size=300)
       | tokens(list("<>/=\"' ab&;#!?[]%") + ["<article>", "</article>", "<p>", "</p>", "<sec>", "<title>",
                                               "<!DOCTYPE a [", "<!ENTITY", "<ref-list>", "<ref>", "<list-item>",
                                               "<sup>", "<xref ref-type='bibr'>", "&nbsp;"]).map(str.encode))
def test_jats_never_crashes(data: bytes) -> None:
    try:
        result = parse_jats(data)
    except DocumentError:
        return
    assert isinstance(result, Parsed)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def make_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> bytes:
    """A text PDF drawn with reportlab, one string per line."""
    c = canvas.Canvas(str(path))
    if title is not None:
        c.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path.read_bytes()


TWO_PAGES = [
    [
        "Combination therapy of Crohn's disease",
        "",
        "Introduction",
        "Upadacitinib was combined with ustekinumab in three patients.",
        "Patients received:",
        "- upadacitinib 45 mg",
        "- ustekinumab 90 mg",
    ],
    [
        "All patients reached remission by week 26.",
        "References",
        "1. " + TURNER[:95],
        "2. " + HAIDER[:120],
    ],
]


def test_pdf_two_pages_have_page_numbers_and_title(tmp_path: Path) -> None:
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", TWO_PAGES, title="Combination therapy (metadata title)"))
    assert p.title == "Combination therapy (metadata title)"
    assert {b.page for b in p.blocks} == {1, 2}
    assert only(p, "three patients").page == 1
    assert only(p, "remission by week 26").page == 2


def test_pdf_title_from_first_line_without_metadata(tmp_path: Path) -> None:
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", TWO_PAGES))  # reportlab writes the title "untitled"
    assert p.title == "Combination therapy of Crohn's disease"
    assert "Combination therapy of Crohn's disease" not in all_text(p)


def test_pdf_section_continues_across_pages(tmp_path: Path) -> None:
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", TWO_PAGES))
    assert only(p, "three patients").section == "Introduction"
    assert only(p, "remission by week 26").section == "Introduction"
    lst = only(p, "upadacitinib 45 mg")
    assert (lst.kind, lst.text) == ("list", "Patients received:\n- upadacitinib 45 mg\n- ustekinumab 90 mg")


def test_pdf_references_split_and_continue_on_next_page(tmp_path: Path) -> None:
    pages = [["Title line here", "", "Discussion", "Combination therapy was safe."],
             ["References", "1. Turner D, Lewis A, et al. STRIDE-II. Gastroenterology. 2021;160:1570-83.",
              "2. Haider M, Lashner B. Dual therapy. J Clin Gastroenterol. 2021;55:661-6."],
             ["3. Miyatani Y, Rubin DT. Upadacitinib and ustekinumab. Dig Dis Sci. 2024;69:355-9."]]
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", pages))
    r = refs(p)
    assert [(b.reference.number, b.page, b.section) for b in r] == [  # type: ignore[union-attr]
        (1, 2, "References"), (2, 2, "References"), (3, 3, "References")]
    assert r[0].reference.year == 2021 and r[0].reference.authors.startswith("Turner D")  # type: ignore[union-attr]
    assert r[2].reference.year == 2024  # type: ignore[union-attr]


def test_pdf_running_headers_and_page_numbers_dropped(tmp_path: Path) -> None:
    bodies = ["Upadacitinib was given.", "Ustekinumab was added.", "Remission followed.", "No infections occurred.",
              "Calprotectin fell.", "Endoscopy improved.", "Steroids were stopped.", "Follow-up continues."]
    pages = [["Journal of Crohns and Colitis", *bodies[2 * i - 2: 2 * i], f"Sentence number {i} is here.",
              f"Closing remark {i * 7}.", str(i)] for i in range(1, 5)]
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", pages))
    assert "Journal of Crohns and Colitis" not in all_text(p)
    assert "Journal of Crohns and Colitis" not in {b.section for b in p.blocks}
    assert not any(b.text.strip().isdigit() for b in p.blocks)
    assert only(p, "Sentence number 3").page == 3
    assert only(p, "Closing remark 21").page == 3
    assert only(p, "Remission followed").page == 2


def test_pdf_doi_from_first_page(tmp_path: Path) -> None:
    p = parse_pdf(make_pdf(tmp_path / "a.pdf", [["A title", "", "https://doi.org/10.26442/20751753.2025.5.203189",
                                                 "Body text of the article."]]))
    assert p.doi == "10.26442/20751753.2025.5.203189"


@pytest.mark.parametrize("data", [b"", b"not a pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n%%EOF",
                                  b"%PDF-1.7\n" + bytes(range(256)) * 4])
def test_pdf_corrupt_bytes(data: bytes) -> None:
    with pytest.raises(DocumentError):
        parse_pdf(data)


def test_pdf_without_pages() -> None:
    buf = io.BytesIO()
    PdfWriter().write(buf)
    with pytest.raises(DocumentError, match="no pages"):
        parse_pdf(buf.getvalue())


def test_pdf_blank_pages_ask_for_ocr(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"no extractable text \(scanned PDF\?\); run OCR first"):
        parse_pdf(make_pdf(tmp_path / "blank.pdf", [[], []]))


def _encrypted(source: bytes, user: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(source)))
    writer.encrypt(user_password=user, owner_password="owner-secret", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_pdf_encrypted_with_password_refused(tmp_path: Path) -> None:
    data = _encrypted(make_pdf(tmp_path / "a.pdf", TWO_PAGES), user="secret")
    with pytest.raises(DocumentError, match="password"):
        parse_pdf(data)


def test_pdf_encrypted_with_empty_password_opens(tmp_path: Path) -> None:
    p = parse_pdf(_encrypted(make_pdf(tmp_path / "a.pdf", TWO_PAGES), user=""))
    assert only(p, "three patients").page == 1


def test_pdf_page_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_pdf(tmp_path / "a.pdf", [["Page one text"], ["Page two text"], ["Page three text"]])
    monkeypatch.setattr(formats, "MAX_PDF_PAGES", 2)
    with pytest.raises(DocumentError, match="3 pages; at most 2"):
        parse_pdf(data)


def test_pdf_cap_is_two_thousand() -> None:
    assert formats.MAX_PDF_PAGES == 2000


_VALID_PDF: list[bytes] = []


def _valid_pdf() -> bytes:
    if not _VALID_PDF:
        buf = io.BytesIO()
        c = canvas.Canvas(buf)
        for lines in TWO_PAGES:
            for i, line in enumerate(lines):
                c.drawString(50, 800 - 16 * i, line)
            c.showPage()
        c.save()
        _VALID_PDF.append(buf.getvalue())
    return _VALID_PDF[0]


@FUZZ
@given(st.binary(max_size=500) | st.binary(max_size=300).map(lambda b: b"%PDF-1.4\n" + b))
def test_pdf_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    try:
        result = parse_pdf(data)
    except DocumentError:
        return
    assert isinstance(result, Parsed)


@FUZZ
@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=40))
def test_pdf_never_crashes_on_damaged_pdf(seed: int, flips: int) -> None:
    rng = random.Random(seed)
    data = bytearray(_valid_pdf())
    if rng.random() < 0.3:
        data = data[: rng.randrange(len(data))]  # truncated download
    for _ in range(flips):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        result = parse_pdf(bytes(data))
    except DocumentError:
        return
    assert isinstance(result, Parsed)
