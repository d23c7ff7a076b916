"""Unit tests of the stages with the deterministic hashing embedder (no model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa import Answer, Assistant, QAError, Settings
from qa.assistant import clean_question, retrieval_query
from qa.chunking import chunk_corpus, chunk_document
from qa.cite import supports, verify
from qa.compose import time_points, units_of
from qa.corpus import load_corpus
from qa.embed import HashEmbedder
from qa.guardrail import BUILTIN_LABEL, find_label_chunk
from qa.retrieve import BM25, asks_across_sources, tokenize
from qa.types import FDA_NOTICE_ID, Block, Chunk, Claim, DocMeta, Document, Draft, Hit, SafetyNotice
from tests.conftest import CORPUS

META = DocMeta(title="T", authors=("A B",), year=2024)


def make_chunk(text: str, cid: str = "d:0000:x", kind: str = "paragraph") -> Chunk:
    return Chunk(id=cid, doc_id="d", text=text, section="S", kind=kind, meta=META)  # type: ignore[arg-type]


# -- corpus and chunking ----------------------------------------------------------------------

def test_corpus_loads_the_three_documents_with_manifest_metadata() -> None:
    corpus = load_corpus(CORPUS)
    assert {d.doc_id for d in corpus.documents} == {"knyazev2025", "evidence-answer-upa-failure", "fda-rinvoq-label"}
    assert corpus.problems == ()
    kn = corpus.document("knyazev2025")
    assert kn.meta.year == 2025 and kn.meta.authors[0] == "Oleg V. Knyazev" and kn.meta.kind == "case series"


def test_chunks_have_stable_ids_and_locators() -> None:
    docs = load_corpus(CORPUS).documents
    a = chunk_corpus(docs, max_chars=550)
    b = chunk_corpus(docs, max_chars=550)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    ref13 = next(c for c in a if c.reference and c.reference.number == 13)
    assert ref13.locator == "Knyazev et al. 2025 › References › ref. 13"
    assert "Miyatani" in ref13.text and "2024" in ref13.text


def test_chunks_never_exceed_max_chars_unless_one_sentence() -> None:
    doc = Document("d", "d.txt", "h", META, (Block("S", " ".join(f"Sentence number {i} is here." for i in range(60))),))
    chunks = chunk_document(doc, max_chars=200)
    assert len(chunks) > 5
    assert all(len(c.text) <= 200 for c in chunks)
    # consecutive pieces overlap by one sentence
    assert chunks[1].text.split(". ")[0] + "." == chunks[0].text.split(". ")[-1]


def test_long_list_repeats_its_lead_in() -> None:
    items = "\n".join(f"- item {i} with some words" for i in range(40))
    doc = Document("d", "d.txt", "h", META, (Block("S", "Outcomes at 12 weeks:\n" + items, kind="list"),))
    chunks = chunk_document(doc, max_chars=250)
    assert len(chunks) > 2
    assert all(c.text.startswith("Outcomes at 12 weeks:") for c in chunks)


# -- retrieval --------------------------------------------------------------------------------

def test_tokenize_keeps_numbers_and_fractions() -> None:
    toks = tokenize("Clinical response: 24/27 patients (89%) at 12 weeks")
    assert {"24/27", "24", "27", "89%", "89", "12", "week"} <= set(toks)
    assert "at" not in toks


def test_bm25_prefers_the_document_with_rare_terms() -> None:
    bm = BM25(["upadacitinib and ustekinumab", "ustekinumab alone", "nothing relevant here"])
    top = bm.top(tokenize("upadacitinib ustekinumab"), 3)
    assert [i for i, _ in top] == [0, 1]
    assert bm.top(tokenize("zebra"), 3) == []


def test_brand_names_reach_generic_passages(hash_assistant: Assistant) -> None:
    r = hash_assistant.retriever.retrieve("Rinvoq Stelara")
    assert any("upadacitinib" in h.chunk.text.lower() and "ustekinumab" in h.chunk.text.lower() for h in r.hits)


def test_reference_found_by_author_and_year(hash_assistant: Assistant) -> None:
    r = hash_assistant.retriever.retrieve("Miyatani 2024")
    assert r.hits[0].chunk.reference is not None and r.hits[0].chunk.reference.number == 13


@pytest.mark.parametrize(("question", "across"), [
    ("Do the sources agree on the safety of combining upadacitinib with a biologic?", True),
    ("Are the studies consistent on remission?", True),
    ("Is there conflicting evidence on adverse events?", True),
    ("What do the different sources say about vedolizumab?", True),
    ("What were the adverse events with upadacitinib and ustekinumab?", False),
    ("Which sources does the evidence answer cite?", False),
])
def test_questions_about_agreement_between_sources(question: str, across: bool) -> None:
    assert asks_across_sources(question) is across


def test_a_question_across_sources_gets_each_source_in_its_own_words(hash_assistant: Assistant) -> None:
    question = "Do the sources agree on adverse events of upadacitinib with ustekinumab?"
    k = hash_assistant.settings.top_k
    plain = hash_assistant.retriever.retrieve("adverse events of upadacitinib with ustekinumab")
    across = hash_assistant.retriever.retrieve(question)
    documents = {c.doc_id for c in hash_assistant.index.chunks}
    assert len(plain.hits) == k and len(across.hits) == k + k // 2
    assert {h.chunk.doc_id for h in across.hits} == documents
    # each source's best passage comes first, and none is a reference-list entry or author record
    firsts = [h.chunk.doc_id for h in across.hits[: len(documents)]]
    assert sorted(firsts) == sorted(documents)
    assert all(h.chunk.kind not in ("reference", "author") for h in across.hits)


# -- composing and citations ------------------------------------------------------------------

def test_units_of_list_keep_lead_in_and_drop_ref_markers() -> None:
    c = make_chunk("Short-term outcomes (12 weeks): (ref. 1)\n- Clinical response: 24/27 patients (89%)", kind="list")
    units = units_of(c, 0)
    assert [u.fragments for u in units] == [("Short-term outcomes (12 weeks):", "Clinical response: 24/27 patients (89%)")]
    assert units[0].text == "Short-term outcomes (12 weeks): Clinical response: 24/27 patients (89%)"


def test_verify_keeps_supported_and_drops_fabricated_claims() -> None:
    real = make_chunk("Adverse events occurred in 13/27 patients (48%).", "d:0001:a")
    other = make_chunk("Something else entirely.", "d:0002:b")
    hits = (Hit(real, 0.9), Hit(other, 0.5))
    draft = Draft(claims=(
        Claim(("Adverse events occurred in 13/27 patients (48%).",), real.id),
        Claim(("No adverse events occurred.",), real.id),  # not in the passage
        Claim(("Adverse events occurred in 13/27 patients (48%).",), "d:9999:zz"),  # not retrieved
    ), abstained=False)
    cited = verify(draft, hits)
    assert [s.text for s in cited.sentences] == ["Adverse events occurred in 13/27 patients (48%)."]
    assert cited.dropped == 2
    assert [c.chunk.id for c in cited.citations] == [real.id]
    assert cited.sentences[0].numbers == (1,)


def test_verify_numbers_sources_in_first_use_order() -> None:
    a, b = make_chunk("Alpha one.", "d:1:a"), make_chunk("Beta two.", "d:2:b")
    draft = Draft(claims=(Claim(("Beta two.",), b.id), Claim(("Alpha one.",), a.id), Claim(("Beta two.",), b.id)),
                  abstained=False)
    cited = verify(draft, (Hit(a, 1.0), Hit(b, 0.5)))
    assert [s.numbers for s in cited.sentences] == [(1,), (2,), (1,)]
    assert [c.chunk.id for c in cited.citations] == [b.id, a.id]


def test_all_claims_unsupported_means_abstention() -> None:
    c = make_chunk("Real text.")
    cited = verify(Draft(claims=(Claim(("Invented.",), c.id),), abstained=False), (Hit(c, 1.0),))
    assert cited.abstained and not cited.citations


def test_supports_ignores_ref_markers_quotes_and_case() -> None:
    assert supports('The FDA "is not recommended" (ref. 2) here', "the fda “is not recommended” here")
    assert not supports("The FDA is clear", "The FDA is unclear")
    assert not supports("anything", "   ")


# -- guardrail and Answer ---------------------------------------------------------------------

def test_answer_cannot_exist_without_the_fda_notice() -> None:
    with pytest.raises(ValueError):
        Answer(question="q", text="t", citations=(), safety=(), abstained=False)
    other = SafetyNotice(id="other", text="x", prominent=False, citations=())
    with pytest.raises(ValueError):
        Answer(question="q", text="t", citations=(), safety=(other,), abstained=False)


def test_label_chunk_comes_from_the_label_document(hash_assistant: Assistant) -> None:
    assert hash_assistant.label_chunk.doc_id == "fda-rinvoq-label"
    assert find_label_chunk([]) is BUILTIN_LABEL


def test_every_answer_has_the_notice_citing_the_label(hash_assistant: Assistant) -> None:
    for q in ["What is STRIDE-II?", "What is the capital of Australia?", "UPA+UST?"]:
        ans = hash_assistant.ask(q)
        notice = next(n for n in ans.safety if n.id == FDA_NOTICE_ID)
        cited = {c.number: c for c in ans.citations}
        assert "not recommended for use in combination" in cited[notice.citations[0]].chunk.text
        assert f"[{notice.citations[0]}]" in ans.text
        assert "not recommended for use in combination with other JAK inhibitors" in ans.text


def test_prominent_notice_comes_first(hash_assistant: Assistant) -> None:
    ans = hash_assistant.ask("Can I add Skyrizi to Rinvoq?")
    assert ans.prominent
    assert ans.text.startswith("> **⚠️ FDA labeling restriction")
    assert ans.off_label and "off-label" in ans.safety[0].off_label
    assert ans.to_dict()["safety"][0]["off_label"] is True
    assert "**🚫 Off-label use.**" in ans.text.split("\n\n")[0]  # beside the notice, in its quote


def test_notice_survives_a_corpus_without_the_label(tmp_path, corpus_copy) -> None:
    # Only the case reports are left: no passage in the corpus states the restriction.
    for name in ("fda_rinvoq_label_limitations_of_use.md", "upadacitinib_combination_after_failure_answer.txt"):
        (corpus_copy / name).unlink()
    (corpus_copy / "manifest.toml").write_text('[[document]]\nfile = "knyazev2025_upadacitinib_ustekinumab_cases.txt"\n')
    a = Assistant.load(Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx", embedder="hash"))
    ans = a.ask("Rinvoq with Stelara?")
    assert ans.prominent
    label = [c for c in ans.citations if c.chunk.id == BUILTIN_LABEL.id]
    assert label and "not recommended for use in combination" in label[0].chunk.text


def test_to_dict_is_json_and_has_the_documented_keys(hash_assistant: Assistant) -> None:
    import json

    d = hash_assistant.ask("What was the clinical response at 12 weeks?").to_dict()
    json.dumps(d)
    assert {"question", "text", "citations", "safety", "abstained", "timings_ms"} <= set(d)
    assert {"n", "source_id", "title", "locator", "text"} <= set(d["citations"][0])
    assert {"id", "text", "prominent", "citations"} <= set(d["safety"][0])


def test_answer_is_frozen(hash_assistant: Assistant) -> None:
    ans = hash_assistant.ask("What is STRIDE-II?")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ans.text = "no warning"  # type: ignore[misc]


# -- questions and history --------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01\x02\x03", b"\xff\xfe\x00\x01", None, 42])
def test_bad_questions_get_clear_errors(bad) -> None:
    with pytest.raises(QAError):
        clean_question(bad, max_chars=100)


def test_too_long_question_names_the_limit() -> None:
    with pytest.raises(QAError, match="QA_MAX_QUESTION_CHARS"):
        clean_question("x" * 101, max_chars=100)


def test_control_characters_are_removed() -> None:
    assert clean_question("upa\u200bdacitinib\x07 dose?\u202e", max_chars=100) == "upa dacitinib dose?"


def test_follow_up_reads_previous_question() -> None:
    history = [{"role": "user", "content": "What was the clinical response at 12 weeks?"},
               {"role": "assistant", "content": "24/27 [1]"}]
    query, context = retrieval_query("And at 52 weeks?", history)
    assert query == "What was the clinical response at 12 weeks? And at 52 weeks?"
    assert context.startswith("What was")
    assert retrieval_query("What is the SES-CD score of patient 1?", history)[0] == "What is the SES-CD score of patient 1?"


def test_follow_up_combination_is_prominent(hash_assistant: Assistant) -> None:
    history = [("user", "What dose of upadacitinib is used for induction?"), ("assistant", "45mg")]
    assert hash_assistant.ask("and with Stelara?", history).prominent


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    e = HashEmbedder()
    v = e.embed(["upadacitinib", "upadacitinib", "ustekinumab"])
    assert np.allclose(v[0], v[1]) and np.isclose(np.linalg.norm(v[2]), 1.0)


def test_document_citation_markers_are_neutralised() -> None:
    from qa.chunking import neutralise_markers

    assert neutralise_markers("Safe [1] [2, 3] [4–6] but [a] stays") == \
        "Safe (ref. 1) (ref. 2, 3) (ref. 4–6) but [a] stays"


def test_answer_carries_an_audit_record_that_replays(hash_assistant: Assistant) -> None:
    first = hash_assistant.ask("What was the clinical response at 12 weeks?")
    audit = first.to_dict()["audit"]
    assert set(audit) == {"corpus_digest", "index_fingerprint", "index_built_at", "embedder", "settings_hash",
                          "context"}
    assert audit["embedder"] == "hash-256" and len(audit["corpus_digest"]) == 64
    again = hash_assistant.ask("What was the clinical response at 12 weeks?")
    assert (again.text, again.to_dict()["audit"]) == (first.text, audit)


@pytest.mark.parametrize(("text", "expected"), [
    ("What were the 12- and 52-week outcomes?", {"12", "52"}),
    ("Short-term outcomes (12 weeks): Clinical response", {"12"}),
    ("Clinical remission rates: 54.9% at year 1, 76.92% at year 4", {"1", "4"}),
    ("from 12 to 16 weeks", {"12", "16"}),
    ("И через 52 недели?", {"52"}),
    ("¿Y a las 12 semanas?", {"12"}),
    ("What SES-CD score did patient 1 have?", set()),  # numbers that name things are not time points
    ("In which journal was Knyazev 2025 published?", set()),
    ("24/27 patients (89%)", set()),
])
def test_time_points_are_the_numbers_of_time_phrases(text: str, expected: set[str]) -> None:
    assert time_points(text) == expected
