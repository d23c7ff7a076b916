"""Evidence levels, outcome tables, source disagreements, cited spans, the off-label flag and
replay: unit tests on hand-made passages and the hashing embedder (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import Assistant, QAError, Settings
from qa.cite import add_findings, locate, normalise, supports, verify
from qa.cli import main as cli_main
from qa.corpus import load_corpus
from qa.evidence import classify, document_evidence, evidence_by_block, follow_up, patients
from qa.outcomes import Tabulator, rows_of, time_in
from qa.types import (
    Block,
    Chunk,
    Citation,
    CitedDraft,
    CitedSentence,
    DocMeta,
    Draft,
    Evidence,
    Findings,
    Hit,
    OutcomeRow,
    Reference,
)

# ----------------------------------------------------------------------------- evidence levels


@pytest.mark.parametrize(("text", "kind"), [
    ("Dual Biologic or Small Molecule Therapy: A Systematic Review and Meta-analysis", "systematic review/meta-analysis"),
    ("A retrospective cohort study", "cohort study"),
    ("Combination Biologic Therapy in IBD: Experience From a Tertiary Care Center", "case series"),
    ("Clinical cases", "case series"),
    ("A randomised, placebo-controlled trial of X", "randomized trial"),
    ("ECCO Guidelines on Therapeutics in Crohn's Disease", "guideline"),
    ("FDA label", "FDA label"),
    ("structured evidence answer", "expert answer"),
    ("A case report of colitis", "case report"),
    ("Dual-Targeted Therapy with Upadacitinib and Ustekinumab in Medically Complex Crohn's Disease", ""),
])
def test_classify_names_the_design_a_title_states(text: str, kind: str) -> None:
    assert classify(text) == kind


def test_n_and_follow_up_are_read_only_when_stated() -> None:
    assert patients("27 patients received it; Risankizumab (n=17); response 24/27 patients") == 27
    assert patients("in patients with severe CD") is None
    assert follow_up("Short-term (12 weeks) and longer-term outcomes (52 weeks)") == "52 weeks"
    assert follow_up("remission at year 4 and 27.65 months") == "4 years"
    assert follow_up("a mean of 27.65 months") == "27.65 months"
    assert follow_up("no time stated") == ""


def test_evidence_label_reads_like_a_clinician_would_write_it() -> None:
    ev = Evidence(kind="case series", n=27, follow_up="52 weeks", basis="section 'Data'", within="expert answer")
    assert ev.label() == "case series, n=27, 52 weeks (reported in an expert answer)"
    assert Evidence(kind="systematic review/meta-analysis", basis="reference title").label() == \
        "reference list entry: systematic review/meta-analysis (from its title)"
    assert Evidence(basis="reference title").label() == "reference list entry: design not stated"


def test_manifest_values_win_and_study_size_is_not_invented() -> None:
    blocks = (Block(section="Abstract", text="After 26 weeks of therapy, all patients achieved remission."),)
    ev = document_evidence(DocMeta(title="Clinical cases", kind="case series"), blocks)
    assert (ev.kind, ev.n, ev.follow_up, ev.basis) == ("case series", None, "26 weeks", "manifest")
    ev = document_evidence(DocMeta(title="Clinical cases", kind="case series", n=3, follow_up="1 year"), blocks)
    assert (ev.n, ev.follow_up) == (3, "1 year")
    # A label or guideline gets no n or follow-up even when numbers appear in it.
    ev = document_evidence(DocMeta(title="Label", kind="FDA label"),
                           (Block(section="x", text="Studied in 500 patients over 52 weeks."),))
    assert (ev.kind, ev.n, ev.follow_up) == ("FDA label", None, "")


def test_a_case_series_section_inside_an_expert_answer_gets_its_own_level() -> None:
    blocks = (
        Block(section="Direct Answer", text="Combination is emerging."),
        Block(section="Single Case Series Data", text="A case series:\n- 27 patients received it", kind="list"),
        Block(section="Single Case Series Data", text="Outcomes (52 weeks):\n- Response: 15/20 patients", kind="list"),
        Block(section="References", text="1. X", kind="reference",
              reference=Reference(number=1, raw="1. X", title="A Systematic Review")),
        Block(section="About the authors", text="A. Author: clinic", kind="author"),
    )
    evs = evidence_by_block(DocMeta(title="Answer", kind="structured evidence answer"), blocks)
    assert evs[0] is not None and evs[0].label() == "expert answer"
    assert evs[1] == evs[2] and evs[1] is not None
    assert evs[1].label() == "case series, n=27, 52 weeks (reported in an expert answer)"
    assert evs[3] is not None and evs[3].kind == "systematic review/meta-analysis"
    assert evs[4] is None  # an author record is not evidence


def test_a_bad_manifest_n_is_reported_for_that_file_and_the_rest_is_indexed(corpus_copy: Path) -> None:
    manifest = corpus_copy / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('kind = "case series"', 'kind = "case series"\nn = "many"'))
    corpus = load_corpus(corpus_copy)
    assert any("knyazev" in p.path and "must be a whole number" in p.message for p in corpus.problems)
    assert len(corpus.documents) == 2


# ----------------------------------------------------------------------------- outcome rows

META = DocMeta(title="Doc", kind="case series")


def chunk(text: str, *, cid: str = "doc:0000:a", section: str = "Results", kind: str = "paragraph") -> Chunk:
    return Chunk(id=cid, doc_id=cid.split(":")[0], text=text, section=section, kind=kind, meta=META,  # type: ignore[arg-type]
                 evidence=Evidence(kind="case series", n=27))


OUTCOME_LIST = ("Short-term outcomes (12 weeks): (ref. 1)\n- Clinical response: 24/27 patients (89%)\n"
                "- Endoscopic response: frequently observed\n- Risankizumab (n=17, most common)")


def test_list_items_become_rows_with_the_lead_in_time_point() -> None:
    rows = rows_of(chunk(OUTCOME_LIST, kind="list"))
    assert [(r.outcome, r.time_point, r.result, r.value) for r in rows] == [
        ("Clinical response", "12 weeks", "24/27 patients (89%)", 89.0),
        ("Endoscopic response", "12 weeks", "frequently observed", None),
    ]
    assert rows[0].fragments == ("Short-term outcomes (12 weeks):", "Clinical response: 24/27 patients (89%)")


def test_sentences_become_rows_and_absence_is_a_row_too() -> None:
    text = ("After 26 weeks of combination therapy, all patients achieved clinical and endoscopic remission "
            "without serious adverse events. The authors thank the nurses.")
    rows = rows_of(chunk(text))
    assert [(r.outcome, r.time_point, r.result, r.category, r.value) for r in rows] == [
        ("Clinical and endoscopic remission", "26 weeks", "all patients", "remission", 100.0),
        ("Serious adverse events", "26 weeks", 'none ("without serious adverse events")', "adverse events", 0.0),
    ]


def test_several_time_points_in_one_item_become_several_rows() -> None:
    rows = rows_of(chunk("Persistence data:\n- Clinical remission rates: 54.9% at year 1,76.92% at year 4", kind="list"))
    assert [(r.time_point, r.result) for r in rows] == [("year 1", "54.9%"), ("year 4", "76.92%")]


def test_persistence_is_an_outcome_and_a_mean_duration_is_not_its_time_point() -> None:
    text = ("Ustekinumab shows strong persistence and efficacy data:\n"
            "- Mean treatment duration: 27.65 months with 86.76% persistence\n"
            "- Superior persistence compared to anti-TNF: 93.2% vs 72.06% at year 1")
    rows = rows_of(chunk(text, kind="list"))
    assert [(r.outcome, r.time_point, r.result, r.category) for r in rows] == [
        ("Persistence", "", "86.76%", "persistence"),
        ("Superior persistence compared to anti-TNF", "year 1", "93.2% vs 72.06% at year 1", "persistence"),
    ]
    assert time_in("median follow-up of 18 months; remission at 12 weeks") == "12 weeks"


def test_references_and_author_records_report_no_outcomes() -> None:
    assert rows_of(chunk("Reference 3: Remission in 50% of patients. Gut. 2020", kind="reference")) == []


def _hits(*chunks: Chunk) -> tuple[Hit, ...]:
    return tuple(Hit(chunk=c, score=1.0 / (i + 1)) for i, c in enumerate(chunks))


SERIES = chunk("Safety of combination therapy with upadacitinib plus ustekinumab:\n"
               "- Adverse events occurred in 13/27 patients (48%)",
               cid="series:0001:a", section="Case series", kind="list")
CASES = chunk("Cases of upadacitinib with ustekinumab. After 26 weeks of combination therapy, all patients achieved "
              "remission without serious adverse events.",
              cid="cases:0001:b", section="Abstract")
MONO = chunk("Ustekinumab alone shows strong persistence:\n- Clinical remission rates: 54.9% at year 1",
             cid="series:0002:c", section="Switch to Ustekinumab", kind="list")


def test_table_only_for_result_questions_and_only_rows_about_the_combination() -> None:
    tab = Tabulator([SERIES, CASES, MONO])
    hits = _hits(SERIES, CASES, MONO)
    found = tab.find("What were the outcomes of upadacitinib combined with ustekinumab?", hits)
    assert {r.chunk_id for r in found.rows} == {SERIES.id, CASES.id}  # the monotherapy section is out of scope
    assert tab.find("Who wrote the case series?", hits).rows == ()


def test_a_question_that_names_outcomes_gets_rows_of_those_outcomes_only() -> None:
    tab = Tabulator([SERIES, CASES, MONO])
    hits = _hits(SERIES, CASES, MONO)
    asked = tab.find("What adverse events were reported with upadacitinib and ustekinumab?", hits)
    assert {r.category for r in asked.rows} == {"adverse events"} and len(asked.rows) == 2
    remission = tab.find("What remission rates were reported with ustekinumab?", hits)
    assert {r.category for r in remission.rows} == {"remission"} and len(remission.rows) == 2
    everything = tab.find("What were the results with ustekinumab?", hits)  # names no outcome
    assert {r.category for r in everything.rows} == {"adverse events", "remission"}


def test_none_versus_some_from_different_sources_is_a_conflict() -> None:
    tab = Tabulator([SERIES, CASES])
    found = tab.find("Is upadacitinib with ustekinumab safe? adverse events", _hits(SERIES, CASES))
    assert [c.topic for c in found.conflicts] == ["adverse events"]
    assert {r.chunk_id for r in found.conflicts[0].rows} == {SERIES.id, CASES.id}
    # The same two figures within one document are not a disagreement between sources.
    same_doc = chunk(CASES.text, cid="series:0003:d", section="Case series")
    assert Tabulator([SERIES, same_doc]).find("adverse events?", _hits(SERIES, same_doc)).conflicts == ()


def test_a_conflict_is_only_shown_when_the_question_or_answer_is_about_it() -> None:
    tab = Tabulator([SERIES, CASES])
    assert tab.find("Who wrote the case series?", _hits(SERIES, CASES)).conflicts == ()


def test_rows_are_checked_against_their_passage_and_a_made_up_number_is_dropped() -> None:
    hits = _hits(SERIES)
    cited = verify(Draft(claims=(), abstained=False), hits)
    base = CitedDraft(sentences=(CitedSentence("x", (1,)),), citations=(Citation(1, SERIES, 1.0),), abstained=False)
    good = rows_of(SERIES)[0]
    forged = OutcomeRow(outcome=good.outcome, time_point="", result="13/27 patients (58%)", chunk_id=SERIES.id,
                        fragments=good.fragments, category=good.category, value=58.0)
    unretrieved = OutcomeRow(outcome="Response", time_point="", result="50%", chunk_id="elsewhere:0:x",
                             fragments=("Response: 50%",), category="response", value=50.0)
    out = add_findings(base, Findings(rows=(good, forged, unretrieved)), hits)
    assert [r.result for r in out.outcomes] == ["13/27 patients (48%)"]
    assert out.outcomes[0].number == 1 and out.outcomes[0].evidence == "case series, n=27"
    assert cited.abstained  # nothing to tabulate for an abstained answer
    assert add_findings(cited, Findings(rows=(good,)), hits).outcomes == ()


# ----------------------------------------------------------------------------- exact passages


def test_locate_maps_back_through_markers_dashes_and_quotes() -> None:
    passage = "Safety concerns: (ref. 1)\n- Adverse events occurred in 13/27 patients (48%)\n- It’s “rare”"
    a, b = locate(passage, "Adverse events occurred in 13/27 patients (48%)")  # type: ignore[misc]
    assert passage[a:b] == "Adverse events occurred in 13/27 patients (48%)"
    a, b = locate(passage, "Safety concerns: Adverse events")  # type: ignore[misc]
    assert passage[a:b] == "Safety concerns: (ref. 1)\n- Adverse events"
    a, b = locate(passage, 'It\'s "rare"')  # type: ignore[misc]
    assert passage[a:b] == "It’s “rare”"
    assert locate(passage, "never said") is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ 0189.,:%()’“-\n", min_size=1, max_size=30), min_size=1, max_size=6),
       st.data())
def test_locate_finds_every_piece_of_a_passage(parts: list[str], data: st.DataObject) -> None:
    passage = " (ref. 2) ".join(parts)
    i = data.draw(st.integers(0, len(parts) - 1))
    fragment = parts[i]
    if not normalise(fragment):
        return
    span = locate(passage, fragment)
    # locate() and supports() agree; a "- " that opens a line is a list dash to both, so a piece
    # with a dash may vanish from the normalised passage, any other piece is always found
    assert (span is not None) == supports(passage, fragment)
    if "-" not in fragment:  # (a dash cut out of its line may read as a list dash on its own)
        assert span is not None
        assert normalise(passage[span[0]:span[1]]) == normalise(fragment)


def test_citations_carry_the_spans_of_the_cited_sentences(hash_assistant: Assistant) -> None:
    answer = hash_assistant.ask("What was the clinical response at 12 weeks?")
    for c in answer.citations:
        assert c.spans, c.chunk.id
        for (a, b), quote in zip(c.spans, c.quotes):
            assert 0 <= a < b <= len(c.chunk.text) and quote == c.chunk.text[a:b]
        assert c.highlighted("<<", ">>").replace("<<", "").replace(">>", "") == c.chunk.text
        assert [q["text"] for q in c.to_dict()["quotes"]] == list(c.quotes)
    label = next(c for c in answer.citations if c.chunk.doc_id == "fda-rinvoq-label")
    assert any("not recommended for use in combination" in q for q in label.quotes)


def test_highlighting_escapes_the_passage_but_not_the_marks() -> None:
    c = Citation(1, chunk("Use <b>A</b> & B. Then C."), 1.0, spans=((0, len("Use <b>A</b> & B.")),))
    import html

    assert c.highlighted("<mark>", "</mark>", escape=html.escape) == \
        "<mark>Use &lt;b&gt;A&lt;/b&gt; &amp; B.</mark> Then C."


# ----------------------------------------------------------------------------- off-label flag


def test_off_label_flag_beside_the_notice_only_when_the_combination_is_at_issue(hash_assistant: Assistant) -> None:
    combo = hash_assistant.ask("Can upadacitinib be combined with ustekinumab?")
    lead = combo.text.split("\n\n")[0]
    assert combo.off_label and lead.startswith("> **⚠️ FDA labeling restriction")
    assert "> **🚫 Off-label use.** " in lead and "contrary to the FDA labeling" in lead
    plain = hash_assistant.ask("Who is the corresponding author of the clinical cases?")
    assert not plain.off_label and "Off-label" not in plain.text
    assert plain.to_dict()["safety"][0]["off_label"] is False


# ----------------------------------------------------------------------------- replay


def test_replay_reproduces_a_recorded_answer_and_names_differences(hash_assistant: Assistant) -> None:
    record = json.loads(json.dumps(hash_assistant.ask("What was the clinical response at 12 weeks?").to_dict()))
    same = hash_assistant.replay(record)
    assert same.reproduced and same.changed == ()
    tampered = dict(record, text=record["text"].replace("89%", "91%"),
                    audit=dict(record["audit"], corpus_digest="0" * 64))
    other = hash_assistant.replay(tampered)
    assert not other.reproduced and other.differences[0].startswith("text: ")
    assert other.changed and other.changed[0].startswith("corpus_digest: ")
    with pytest.raises(QAError, match="Not an answer record"):
        hash_assistant.replay({"text": "no question"})


def test_replay_uses_the_recorded_previous_question(hash_assistant: Assistant) -> None:
    history = [{"role": "user", "content": "What was the clinical response in the case series?"},
               {"role": "assistant", "content": "..."}]
    follow = hash_assistant.ask("and at 52 weeks?", history)
    assert follow.audit["context"] == "What was the clinical response in the case series?"
    assert hash_assistant.replay(follow.to_dict()).reproduced


def test_cli_replay_exit_codes(tmp_path: Path, hash_settings: Settings, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_CORPUS_DIR", str(hash_settings.corpus_dir))
    monkeypatch.setenv("QA_INDEX_DIR", str(hash_settings.index_dir))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    record = Assistant.load(Settings()).ask("What was the clinical response at 12 weeks?").to_dict()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(record))
    bad.write_text(json.dumps(dict(record, text="something else")))
    assert cli_main(["replay", str(good)]) == 0
    assert "reproduced" in capsys.readouterr().out
    assert cli_main(["replay", str(good), str(bad)]) == 1
    assert "DIFFERENT" in capsys.readouterr().out
    assert cli_main(["replay", str(tmp_path / "missing.json")]) == 2
    assert "No answer record at" in capsys.readouterr().err


_WORDS = st.sampled_from([
    "After", "26", "weeks", "of", "therapy,", "all", "patients", "achieved", "clinical", "remission",
    "without", "serious", "adverse", "events", "Response:", "24/27", "patients", "(89%)", "at", "year", "1,",
    "48%", "discontinuation", "in", "3/27", "steroid-free", "(ref. 2)", "52-week", "n=17", ".", ":", "\n- ",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=40), st.sampled_from(["paragraph", "list"]))
def test_every_extracted_row_passes_the_citation_check(words: list[str], kind: str) -> None:
    from qa.cite import row_supported

    text = " ".join(words)
    if kind == "list":
        text = "Outcomes (12 weeks):\n- " + text
    c = chunk(text, kind=kind)
    for row in rows_of(c):
        assert row_supported(row, c.text), (row, c.text)
