"""Clinician-grade answers over the real corpus (all-MiniLM-L6-v2 and FAISS): evidence levels,
the outcome table, source disagreements, exact cited passages, the off-label flag and replay."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Answer, Assistant
from qa.cite import normalise
from tests.answer_checks import citations_are_sound
from tests.questions import COMBINATION_PHRASINGS, FACT_QUESTIONS

pytestmark = pytest.mark.slow

OUTCOMES_Q = "What were the 12- and 52-week outcomes of upadacitinib combination therapy?"
SAFETY_Q = "What adverse events occurred with upadacitinib combination therapy?"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def outcomes_answer(real_assistant: Assistant) -> Answer:
    return real_assistant.ask(OUTCOMES_Q)


def _evidence_of(real_assistant: Assistant) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in real_assistant.index.chunks:
        if c.evidence is not None:
            out.setdefault(c.doc_id, set()).add(c.evidence.label())
    return out


def test_evidence_level_of_the_case_series_and_of_the_label(real_assistant: Assistant,
                                                            outcomes_answer: Answer) -> None:
    labels = _evidence_of(real_assistant)
    assert labels["fda-rinvoq-label"] == {"FDA label"}
    assert "case series, 26 weeks" in labels["knyazev2025"]  # n is not stated in the indexed text
    assert "case series, n=27, 52 weeks (reported in an expert answer)" in labels["evidence-answer-upa-failure"]
    # ... and beside each numbered source of an answer, in the API and the Markdown.
    data = outcomes_answer.to_dict()
    shown = {c["doc_id"]: c["evidence"]["label"] for c in data["citations"] if c["evidence"]}
    assert shown["fda-rinvoq-label"] == "FDA label"
    assert any(c["evidence"] and c["evidence"]["n"] == 27 and c["evidence"]["follow_up"] == "52 weeks"
               for c in data["citations"])
    assert "evidence: FDA label" in outcomes_answer.to_markdown()


def test_outcome_table_for_the_12_and_52_week_question(outcomes_answer: Answer) -> None:
    answer = outcomes_answer
    by_number = {c.number: c for c in answer.citations}
    retrieved = {cid for cid, _ in answer.retrieved}
    rows = {(r.outcome, r.time_point): r for r in answer.outcomes}
    assert rows[("Clinical response", "12 weeks")].result == "24/27 patients (89%)"
    assert rows[("Steroid-free remission", "12 weeks")].result == "9/27 patients (33%)"
    assert rows[("Clinical response", "52 weeks")].result == "15/20 patients (75%)"
    assert rows[("Steroid-free remission", "52 weeks")].result == "11/20 patients (55%)"
    assert len(rows) == len(answer.outcomes)  # one row per outcome and time point
    for row in answer.outcomes:
        passage = by_number[row.number].chunk
        assert passage.id in retrieved
        for number in NUMBER.findall(f"{row.outcome} {row.time_point} {row.result}"):
            assert number in passage.text, (number, row, passage.text)
        # The words the row rests on are highlighted in its passage ('none ("without X")' quotes X).
        said = re.sub(r'^none \("(.*)"\)$', r"\1", row.result)
        assert any(normalise(said) in normalise(q) for q in by_number[row.number].quotes), row
        # In the answer text, each row cites its passage in the result cell.
        assert f"| {row.result} [{row.number}] |" in answer.text.replace("\\", "")
    assert "**Outcomes reported**" in answer.text
    assert citations_are_sound(answer) == []
    # The direct answer states one of the asked-for time points, not general advice.
    head = next(line for line in answer.text.splitlines() if line.startswith("**Answer.**"))
    assert re.search(r"\((?:12|52) weeks\)", head), head


def test_no_table_for_a_question_that_does_not_ask_for_results(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("Who is the corresponding author of the clinical cases?")
    assert answer.outcomes == () and "**Outcomes reported**" not in answer.text


@pytest.mark.parametrize("question", [OUTCOMES_Q, SAFETY_Q])
def test_disagreement_on_adverse_events_is_shown_with_both_citations(real_assistant: Assistant,
                                                                     question: str) -> None:
    answer = real_assistant.ask(question)
    conflict = next(c for c in answer.conflicts if c.topic == "adverse events")
    by_number = {c.number: c for c in answer.citations}
    docs = {by_number[r.number].chunk.doc_id for r in conflict.rows}
    assert docs == {"knyazev2025", "evidence-answer-upa-failure"}
    assert any(r.result.startswith("none") for r in conflict.rows)
    assert any("48%" in r.result for r in conflict.rows)
    note = answer.text.split("**Sources disagree**", 1)[1]
    for r in conflict.rows:
        assert f"[{r.number}]" in note
    assert citations_are_sound(answer) == []


@pytest.mark.parametrize("question", COMBINATION_PHRASINGS[:12])
def test_off_label_flag_next_to_the_notice_on_combination_answers(real_assistant: Assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    lead = answer.text.split("\n\n")[0]
    assert lead.startswith("> **⚠️ FDA labeling restriction")
    assert "**🚫 Off-label use.**" in lead and "off-label and contrary to the FDA labeling" in lead
    assert answer.to_dict()["off_label"] is True


@pytest.mark.parametrize("fq", FACT_QUESTIONS[:12], ids=lambda fq: fq.question[:50])
def test_every_cited_sentence_is_highlighted_inside_its_passage(real_assistant: Assistant, fq) -> None:  # type: ignore[no-untyped-def]
    answer = real_assistant.ask(fq.question)
    by_number = {c.number: c for c in answer.citations}
    for c in answer.citations:
        assert c.spans, (c.chunk.id, answer.text)
    # Every sentence of the body is covered by the highlighted spans of a passage it cites.
    for line in answer.text.splitlines():
        m = re.match(r"^(?:\*\*Answer\.\*\* |- )(.*?)((?: ?\[\d+\])+)$", line)
        if not m:
            continue
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", m.group(2))]
        text = normalise(m.group(1))
        assert any(
            all(normalise(part) in " ".join(normalise(q) for q in by_number[n].quotes)
                for part in re.split(r": |; ", text) if part)
            for n in numbers
        ), (line, [by_number[n].quotes for n in numbers])


def test_audit_record_replays_to_the_same_answer(real_assistant: Assistant, outcomes_answer: Answer) -> None:
    record = json.loads(json.dumps(outcomes_answer.to_dict(), ensure_ascii=False))
    audit = record["audit"]
    assert audit["embedder"] == "all-MiniLM-L6-v2" and len(audit["corpus_digest"]) == 64
    assert audit["index_fingerprint"] == real_assistant.index.manifest["fingerprint"]
    assert record["retrieved"] and record["timings_ms"]["total"] > 0 and record["generator"] == "extractive"
    replay = real_assistant.replay(record)
    assert replay.reproduced, replay.differences
    assert replay.changed == ()
    assert replay.answer.text == outcomes_answer.text
    assert [r.to_dict() for r in replay.answer.outcomes] == record["outcomes"]


def test_a_saved_answer_replays_in_a_fresh_process(real_assistant: Assistant, outcomes_answer: Answer,
                                                   tmp_path: Path) -> None:
    """'qa replay' in another interpreter (other hash seed, model loaded anew) gives the same
    answer, and exits 1 naming the difference once the record no longer matches."""
    saved, edited = tmp_path / "answer.json", tmp_path / "edited.json"
    record = outcomes_answer.to_dict()
    saved.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    record["outcomes"] = record["outcomes"][1:]  # as if an earlier version had shown one row less
    edited.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    settings = real_assistant.settings
    env = {"QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
           "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parent.parent
    same = subprocess.run([sys.executable, "-m", "qa.cli", "replay", str(saved)], capture_output=True,
                          text=True, env=env, cwd=root, timeout=300)
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.startswith("reproduced") and "changed" not in same.stdout
    other = subprocess.run([sys.executable, "-m", "qa.cli", "replay", str(edited)], capture_output=True,
                           text=True, env=env, cwd=root, timeout=300)
    assert other.returncode == 1, other.stdout + other.stderr
    assert other.stdout.startswith("DIFFERENT") and "outcome" in other.stdout.lower(), other.stdout
