"""Optional set `--set scifact`: evidence-document retrieval on SciFact, BM25 + dense vs dense-only.

Data: ../shared/benchmarks/scifact relative to the repository (claims_train.jsonl and corpus.jsonl;
see SOURCE.md there). A subset is indexed with the public API: the evidence abstracts of the first
N claims that have evidence (by claim id) plus distractor abstracts drawn with a fixed seed, written
as text files with a manifest into a temporary corpus folder. Each claim is asked through
`Assistant.ask`; the retrieved chunks (the label passage the guardrail appends is left out) map to
abstracts, and recall@k / MRR of the evidence abstracts are reported for our hybrid retrieval and
for the same pipeline with the BM25 weight set to 0 (dense only). Skipped with a message when the
data is absent. Never part of the default run.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qa import Assistant, QAError, Settings

from evals import metrics

BENCH_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"
DEFAULT_CLAIMS = 50
DEFAULT_DOCUMENTS = 300
SEED = 13


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_subset(folder: Path, claims: list[dict[str, Any]], corpus: dict[int, dict[str, Any]],
                 n_documents: int) -> dict[str, int]:
    """Write the evidence abstracts plus distractors as .txt files with manifest.toml; returns file counts."""
    gold = sorted({int(d) for c in claims for d in c["evidence"]})
    others = sorted(set(corpus) - set(gold))
    rng = random.Random(SEED)
    distractors = rng.sample(others, max(0, min(len(others), n_documents - len(gold))))
    folder.mkdir(parents=True, exist_ok=True)
    manifest = ["# SciFact subset written by evals/scifact.py"]
    for doc_id in gold + distractors:
        doc = corpus[doc_id]
        name = f"scifact_{doc_id}.txt"
        (folder / name).write_text(doc["title"].strip() + "\n\n" + " ".join(s.strip() for s in doc["abstract"]) + "\n",
                                   encoding="utf-8")
        manifest += ["", "[[document]]", f"file = {_toml_str(name)}", f"id = {_toml_str(f'scifact-{doc_id}')}",
                     f"title = {_toml_str(doc['title'].strip())}"]
    (folder / "manifest.toml").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return {"gold": len(gold), "distractors": len(distractors)}


def _score(assistant: Assistant, claims: list[dict[str, Any]], k: int, label: str, progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    per_claim = []
    for claim in tqdm(claims, desc=f"SciFact {label}", unit="claim", file=sys.stderr, disable=not progress):
        expected = [f"scifact-{d}" for d in claim["evidence"]]
        try:
            answer = assistant.ask(claim["claim"])
            docs = [metrics.doc_of(cid) for cid in metrics.retrieval_ranking(answer.retrieved)]
        except QAError:
            docs = []
        per_claim.append(metrics.retrieval_scores(docs, expected, k))
    return {
        "recall_at_1": metrics.mean(s["recall_at_1"] for s in per_claim),
        "recall_at_3": metrics.mean(s["recall_at_3"] for s in per_claim),
        "recall_at_k": metrics.mean(s["recall_at_k"] for s in per_claim),
        "mrr": metrics.mean(s["rr"] for s in per_claim),
    }


def run_scifact(settings: Settings, *, k: int, n_claims: int | None = None, n_documents: int | None = None,
                bench_dir: Path = BENCH_DIR, progress: bool = True) -> dict[str, Any]:
    """The SciFact section of the report ({'skipped': why} when the data is absent)."""
    data = bench_dir / "scifact"
    if not (data / "claims_train.jsonl").exists() or not (data / "corpus.jsonl").exists():
        msg = f"SciFact skipped: no claims_train.jsonl and corpus.jsonl in {data}"
        print(msg, file=sys.stderr)
        return {"skipped": msg}
    started = time.perf_counter()
    n_claims = n_claims or DEFAULT_CLAIMS
    n_documents = n_documents or DEFAULT_DOCUMENTS
    with (data / "claims_train.jsonl").open(encoding="utf-8") as f:
        claims = [c for c in map(json.loads, f) if c.get("evidence")]
    claims = sorted(claims, key=lambda c: c["id"])[:n_claims]
    with (data / "corpus.jsonl").open(encoding="utf-8") as f:
        corpus = {int(d["doc_id"]): d for d in map(json.loads, f)}
    tmp = Path(tempfile.mkdtemp(prefix="qa-scifact-"))
    try:
        counts = write_subset(tmp / "corpus", claims, corpus, n_documents)
        base = settings.model_copy(update={"corpus_dir": tmp / "corpus", "index_dir": tmp / "index",
                                           "auto_rebuild": True})
        t = time.perf_counter()
        hybrid = Assistant.load(base)
        build_s = time.perf_counter() - t
        # Same index (its fingerprint depends on the embedder and chunking only), BM25 weight 0.
        dense = Assistant.load(base.model_copy(update={"lexical_weight": 0.0}), embedder=hybrid.embedder)
        result = {
            "claims": len(claims),
            "documents": counts["gold"] + counts["distractors"],
            "evidence_documents": counts["gold"],
            "chunks": hybrid.status().chunks,
            "index_build_s": round(build_s, 2),
            "hybrid": _score(hybrid, claims, k, "BM25 + dense", progress),
            "dense_only": _score(dense, claims, k, "dense only", progress),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
