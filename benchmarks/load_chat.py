"""Load test of the chat server: N concurrent users on 127.0.0.1, bounded in count and time.

    python benchmarks/load_chat.py [--users 20] [--questions 3] [--max-seconds 300]

Starts the app in-process on a free loopback port, then each user (its own gradio_client
session) asks its questions in turn. Every answer must carry an inline citation and the FDA
notice. Prints errors, p50/p95 latency (queueing included) and throughput; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

QUESTIONS = [
    "Can upadacitinib be combined with ustekinumab?",
    "What was the clinical response at 12 weeks?",
    "How often did adverse events occur with upadacitinib combination therapy?",
    "What is STRIDE-II?",
    "Rinvoq plus Skyrizi?",
    "What is the capital of Australia?",
]
NOTICE = "not recommended for use in combination with other JAK inhibitors"


def last_answer(result) -> str:  # type: ignore[no-untyped-def]
    chat = result[1]
    content = chat[-1]["content"]
    if isinstance(content, list):
        content = " ".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def run(users: int, per_user: int, max_seconds: float) -> dict:
    from qa import Assistant, Settings
    from tests.chat_server import running_app

    tmp = Path(tempfile.mkdtemp(prefix="qa-load-"))
    assistant = Assistant.load(Settings(corpus_dir=ROOT / "corpus", index_dir=tmp / "index"))
    with running_app(assistant, feedback=tmp / "feedback.jsonl", export_dir=tmp / "exports", stream_delay=0.0) as url:
        return _load(url, tmp, users, per_user, max_seconds)


def _load(url: str, tmp: Path, users: int, per_user: int, max_seconds: float) -> dict:
    from gradio_client import Client

    deadline = time.monotonic() + max_seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        try:
            client = Client(url, verbose=False, download_files=str(tmp / f"dl{i}"))
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"user {i}: cannot connect: {exc}")
            return
        for k in range(per_user):
            if time.monotonic() > deadline:
                return
            q = QUESTIONS[(i + k) % len(QUESTIONS)]
            t = time.perf_counter()
            try:
                text = last_answer(client.predict(q, api_name="/ask"))
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(f"user {i}: {q!r}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - t
            problems = []
            if NOTICE not in text:
                problems.append("no FDA notice")
            if not re.search(r"\[\d+\]", text):
                problems.append("no citation")
            with lock:
                latencies.append(elapsed)
                errors.extend(f"user {i}: {q!r}: {p}" for p in problems)

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(1.0, deadline - time.monotonic() + 30))
    wall = time.perf_counter() - started
    lat = sorted(latencies)
    return {
        "users": users,
        "answers": len(lat),
        "errors": errors,
        "p50_s": statistics.median(lat) if lat else float("nan"),
        "p95_s": lat[max(0, int(round(0.95 * (len(lat) - 1))))] if lat else float("nan"),
        "wall_s": wall,
        "throughput_per_s": len(lat) / wall if wall else 0.0,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--questions", type=int, default=3, help="questions per user")
    p.add_argument("--max-seconds", type=float, default=300.0)
    args = p.parse_args()
    r = run(args.users, args.questions, args.max_seconds)
    print(f"{r['users']} users, {r['answers']} answers in {r['wall_s']:.1f} s: p50 {r['p50_s']:.2f} s, "
          f"p95 {r['p95_s']:.2f} s (queueing included), {r['throughput_per_s']:.2f} answers/s, "
          f"{len(r['errors'])} errors")
    for e in r["errors"][:20]:
        print("  " + e)
    return 1 if r["errors"] or r["answers"] < r["users"] else 0


if __name__ == "__main__":
    sys.exit(main())
