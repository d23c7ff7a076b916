"""Core benchmark: index build time, cold start, answer latency p50/p95, peak memory.

    python benchmarks/bench_core.py [--runs 3]

Cold start is measured in fresh processes (process start -> first answer printed), once with
an index already on disk and once building it. Latencies are over the end-to-end test questions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHILD = """
import sys, time, json
t0 = float(sys.argv[1])
from qa import Assistant, Settings
s = Settings(corpus_dir=sys.argv[2], index_dir=sys.argv[3])
a = Assistant.load(s)
ans = a.ask("Can upadacitinib be combined with ustekinumab?")
import resource
print(json.dumps({"cold_start_s": time.time() - t0, "prominent": ans.prominent,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cold_start(index_dir: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(time.time()), str(ROOT / "corpus"), index_dir],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="repeats of the question set")
    args = parser.parse_args()

    from qa import Assistant, Settings
    from qa.corpus import load_corpus
    from qa.embed import make_embedder
    from qa.index import VectorIndex
    from tests.questions import FACT_QUESTIONS

    tmp = tempfile.mkdtemp(prefix="qa-bench-")
    print(f"cold start, building the index: {cold_start(tmp + '/cold')['cold_start_s']:.2f} s")
    warm = cold_start(tmp + "/cold")
    print(f"cold start, index on disk:      {warm['cold_start_s']:.2f} s (peak RSS {warm['peak_rss_mb']:.0f} MB)")

    settings = Settings(corpus_dir=ROOT / "corpus", index_dir=Path(tmp) / "inproc")
    embedder = make_embedder("minilm")
    corpus = load_corpus(settings.corpus_dir)
    builds = []
    for _ in range(3):
        t = time.perf_counter()
        index = VectorIndex.build(settings, embedder, corpus=corpus)
        builds.append(time.perf_counter() - t)
    print(f"index build (model loaded):     {statistics.median(builds):.2f} s median of 3 "
          f"({len(corpus.documents)} documents, {len(index.chunks)} chunks)")

    assistant = Assistant.load(settings, embedder=embedder)
    questions = [q.question for q in FACT_QUESTIONS]
    passes = []
    for _ in range(args.runs):
        latencies = []
        for q in questions:
            t = time.perf_counter()
            assistant.ask(q)
            latencies.append((time.perf_counter() - t) * 1000)
        passes.append(latencies)
    # The first pass embeds every candidate sentence; later passes find them in the sentence cache.
    for name, lat in [("first pass (cold sentence cache)", passes[0]),
                      ("later passes (warm cache)", [x for p in passes[1:] for x in p])]:
        if lat:
            print(f"answer latency, {name}, {len(lat)} answers: p50 {percentile(lat, 0.5):.1f} ms, "
                  f"p95 {percentile(lat, 0.95):.1f} ms, max {max(lat):.1f} ms")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
