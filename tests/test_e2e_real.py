"""End to end over the real corpus with all-MiniLM-L6-v2 embeddings and FAISS."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qa import Assistant
from tests.answer_checks import citations_are_sound, fact_is_cited
from tests.conftest import CORPUS, ROOT
from tests.questions import COMBINATION_PHRASINGS, FACT_QUESTIONS, OUT_OF_SCOPE, FactQuestion

pytestmark = pytest.mark.slow


def test_real_index_uses_minilm_and_faiss(real_assistant: Assistant) -> None:
    m = real_assistant.index.manifest
    assert m["embedder"] == "all-MiniLM-L6-v2" and m["dim"] == 384 and m["faiss_index"] == "IndexFlatIP"
    assert len(real_assistant.index.chunks) == m["n_chunks"] > 30


@pytest.mark.parametrize("fq", FACT_QUESTIONS, ids=lambda fq: fq.question[:50])
def test_fact_is_answered_and_its_sentence_cites_a_passage_containing_it(
    real_assistant: Assistant, fq: FactQuestion
) -> None:
    answer = real_assistant.ask(fq.question)
    assert not answer.abstained, answer.text
    for group in fq.facts:
        assert any(fact_is_cited(answer, fact) for fact in group), f"{group} not cited in:\n{answer.text}"
    assert fq.doc_id in {c.chunk.doc_id for c in answer.citations}
    assert citations_are_sound(answer) == []


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_questions_abstain(real_assistant: Assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    assert answer.abstained
    assert "does not cover" in answer.text
    # Nothing cited but the label passage behind the safety notice.
    assert [c.chunk.doc_id for c in answer.citations] == ["fda-rinvoq-label"]


@pytest.mark.parametrize("question", COMBINATION_PHRASINGS)
def test_combination_questions_get_the_prominent_notice_first(real_assistant: Assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    assert answer.prominent, answer.safety
    assert answer.text.startswith("> **⚠️ FDA labeling restriction")
    assert "not recommended for use in combination with other JAK inhibitors" in answer.text.split("\n")[0]
    notice_block = answer.text.split("\n\n")[0]  # the leading quote: the notice, then the off-label flag
    assert answer.off_label and "off-label and contrary to the FDA labeling" in notice_block
    label = {c.number: c for c in answer.citations}[answer.safety[0].citations[0]]
    assert label.chunk.doc_id == "fda-rinvoq-label"
    assert citations_are_sound(answer) == []


def test_follow_up_uses_the_history(real_assistant: Assistant) -> None:
    first = "What was the clinical response at 12 weeks with upadacitinib combination therapy?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": real_assistant.ask(first).text}]
    answer = real_assistant.ask("And at 52 weeks?", history)
    assert fact_is_cited(answer, "15/20") or fact_is_cited(answer, "75%"), answer.text


def test_cli_ask_json(tmp_path) -> None:
    env = {"QA_CORPUS_DIR": str(CORPUS), "QA_INDEX_DIR": str(tmp_path / "idx"), "HF_HUB_OFFLINE": "1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "--json", "UPA+UST?"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["safety"][0]["prominent"] is True and d["citations"]
    md = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "What is STRIDE-II?"], capture_output=True,
                        text=True, env=env, cwd=ROOT, timeout=300)
    assert md.returncode == 0 and "**Sources**" in md.stdout and "[1]" in md.stdout


def test_cli_errors_are_one_line_with_the_fix(tmp_path) -> None:
    env = {"QA_CORPUS_DIR": str(tmp_path / "missing"), "QA_INDEX_DIR": str(tmp_path / "idx"),
           "QA_EMBEDDER": "hash", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "hi"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: No corpus folder") and "Traceback" not in out.stderr
