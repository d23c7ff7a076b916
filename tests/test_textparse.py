from __future__ import annotations

from pathlib import Path

import pytest

from qa.textparse import (
    is_boilerplate,
    list_parts,
    mark_trailing_refs,
    parse_plain_text,
    parse_reference,
    split_sentences,
    statements,
    strip_ref_markers,
)

SEEDS = Path(__file__).resolve().parent.parent / "corpus"
ARTICLE = (SEEDS / "knyazev2025_upadacitinib_ustekinumab_cases.txt").read_text(encoding="utf-8")
ANSWER = (SEEDS / "upadacitinib_combination_after_failure_answer.txt").read_text(encoding="utf-8")


def all_text(parsed) -> str:
    return "\n".join(b.text for b in parsed.blocks)


def test_article_title_and_sections() -> None:
    p = parse_plain_text(ARTICLE)
    assert p.title.startswith("Combination therapy of Crohn's disease with an interleukin 12/23")
    sections = {b.section for b in p.blocks}
    assert {"Abstract", "About the authors", "References", "Figures"} <= sections


@pytest.mark.parametrize("junk", ["Cover Page", "Cite item", "Download (93KB)", "JATS XML", "Согласие на обработку",
                                  "Яндекс.Метрика", "Creative Commons License"])
def test_page_boilerplate_is_not_kept(junk: str) -> None:
    assert junk not in all_text(parse_plain_text(ARTICLE))


def test_wrapped_abstract_is_one_paragraph() -> None:
    p = parse_plain_text(ARTICLE)
    abstract = [b for b in p.blocks if b.section == "Abstract"]
    assert len(abstract) == 1
    assert "genetically engineered biological drugs and/or targeted immunosuppressants" in abstract[0].text
    assert abstract[0].text.endswith("without serious adverse events.")


def test_each_reference_is_its_own_record() -> None:
    refs = [b.reference for b in parse_plain_text(ARTICLE).blocks if b.kind == "reference"]
    assert [r.number for r in refs] == list(range(1, 16))
    miyatani = refs[12]
    assert miyatani.authors.startswith("Miyatani Y")
    assert miyatani.year == 2024
    assert miyatani.journal == "Dig Dis Sci"
    assert miyatani.doi == "10.1007/s10620-023-08182-y"
    assert "Upadacitinib and Ustekinumab" in miyatani.title
    assert refs[14].doi == "10.1016/s0016-5107(04)01878-4"


def test_author_records() -> None:
    authors = [b for b in parse_plain_text(ARTICLE).blocks if b.kind == "author"]
    assert len(authors) == 6
    assert authors[0].text.startswith("Oleg V. Knyazev:")
    assert "Author for correspondence" in authors[0].text
    assert "0000-0001-7250-0977" in authors[0].text


def test_evidence_answer_lists_keep_their_lead_in() -> None:
    p = parse_plain_text(ANSWER, trailing_refs=6)
    lists = [b for b in p.blocks if b.kind == "list"]
    short = next(b for b in lists if b.text.startswith("Short-term outcomes (12 weeks)"))
    assert "- Clinical response: 24/27 patients (89%)" in short.text.split("\n")
    assert short.section == "Single Case Series Data"


def test_evidence_answer_reference_numbers_stay_with_sentences() -> None:
    text = all_text(parse_plain_text(ANSWER, trailing_refs=6))
    assert "contradicts FDA labeling and current guidelines. (ref. 1)" in text
    assert 'cyclosporine." (ref. 2) This represents' in text
    assert "54.9% at year 1,76.92% at year 4 (ref. 5)" in text
    assert "JAK inhibition (ref. 4)" in text
    assert "Switch to risankizumab (ref. 3, 4)" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("guidelines. 1", "guidelines. (ref. 1)"),
        ("at year 4 5", "at year 4 (ref. 5)"),
        ("patient 1", "patient 1"),
        ("Step 2", "Step 2"),
        ("IL 23", "IL 23"),
        ("n = 3", "n = 3"),
    ],
)
def test_mark_trailing_refs(line: str, expected: str) -> None:
    assert mark_trailing_refs(line, 6) == expected


def test_strip_ref_markers() -> None:
    assert strip_ref_markers("Switch to risankizumab (ref. 3, 4)") == "Switch to risankizumab"


def test_split_sentences_survives_abbreviations_and_decimals() -> None:
    s = split_sentences("Miyatani Y, et al. reported it. Remission was 54.9% at year 1. Dr. A. Smith agreed (ref. 1). End.")
    assert s == ["Miyatani Y, et al. reported it.", "Remission was 54.9% at year 1.",
                 "Dr. A. Smith agreed (ref. 1).", "End."]


def test_parse_reference_without_doi() -> None:
    r = parse_reference("Smith J, Doe A. A title here. Some Journal. 2019;1(2):3-4.", 7)
    assert (r.number, r.authors, r.title, r.journal, r.year, r.doi) == (
        7, "Smith J, Doe A", "A title here", "Some Journal", 2019, "")


@pytest.mark.parametrize("line", ["Download (93KB)", "Cite item", "Cover Page", "We use cookies to improve",
                                  "Copyright (c) 2025 Consilium Medicum"])
def test_is_boilerplate(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", ["Clinical response: 24/27 patients (89%)", "References", "Abstract"])
def test_content_is_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


def test_wrapped_reference_lines_join_their_entry() -> None:
    text = "Title\n\nReferences\n\n1. Smith J, Doe A. A long title. Gastro\nEnterology. 2021;1:2. doi: 10.1053/j.gastro.1\n2. Roe B. Other. J Med. 2020;3:4.\n"
    refs = [b.reference for b in parse_plain_text(text).blocks if b.kind == "reference"]
    assert [r.number for r in refs] == [1, 2]
    assert refs[0].year == 2021 and refs[0].doi == "10.1053/j.gastro.1"


def test_bare_doi_is_found() -> None:
    assert parse_reference("Roe B. Other. J Med. 2020;3:4. 10.1234/abc.5", 1).doi == "10.1234/abc.5"


def test_figure_caption_needs_punctuation_after_the_number() -> None:
    p = parse_plain_text("Title\n\nResults\n\nFigure 1 shows the trend over time in all groups.\nFig. 2. Endoscopy.\n")
    kinds = {b.text: b.kind for b in p.blocks}
    assert kinds["Figure 1 shows the trend over time in all groups."] == "paragraph"
    assert kinds["Fig. 2. Endoscopy."] == "caption"


def test_list_parts_separate_the_lead_in_from_the_items() -> None:
    assert list_parts("Short-term outcomes (12 weeks):\n- Clinical response: 24/27\n- Endoscopic response") == (
        "Short-term outcomes (12 weeks):", ["Clinical response: 24/27", "Endoscopic response"])
    assert list_parts("- first\n- second") == ("", ["first", "second"])


def test_statements_split_at_list_dashes_but_not_at_wrapped_lines() -> None:
    assert statements("After 26 weeks all patients\nachieved remission. No events.") == [
        "After 26 weeks all patients achieved remission.", "No events."]
    assert statements("Response:\n- After 12 weeks, 89%\n-\nEnd") == ["Response:", "After 12 weeks, 89%", "End"]
