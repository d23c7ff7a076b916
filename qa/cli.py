"""`qa index | ask | replay | status | serve | eval`: a thin command line over the public API."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa import Assistant, QAError, Settings, build_index  # noqa: E402


def _progress_bar():  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if total < 500:  # small corpora build in seconds: no bar
            return
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def cmd_index(args: argparse.Namespace) -> int:
    manifest = build_index(Settings(), progress=_progress_bar())
    print(f"Indexed {len(manifest['documents'])} documents into {manifest['n_chunks']} chunks "
          f"({manifest['embedder']}, {manifest['build_seconds']} s)")
    for problem in manifest["problems"]:
        print(f"  skipped {problem}", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = Assistant.load(progress=_progress_bar())
    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    answer = assistant.ask(question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(answer.to_markdown())
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Ask recorded answers again; exit 1 when any answer differs (a regression check)."""
    from pathlib import Path

    records = []
    for name in args.files:
        path = Path(name)
        try:
            records.append((name, json.loads(path.read_text(encoding="utf-8"))))
        except FileNotFoundError:
            raise QAError(f"No answer record at {path}; save one with 'qa ask --json ... > {path.name}'") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise QAError(f"{path} is not an answer record in JSON ({exc})") from None
    assistant = Assistant.load(progress=_progress_bar())
    failed = 0
    for name, record in records:
        result = assistant.replay(record)
        failed += not result.reproduced
        print(f"{'reproduced' if result.reproduced else 'DIFFERENT '}  {name}")
        for line in result.differences:
            print(f"    answer   {line}")
        for line in result.changed:
            print(f"    changed  {line}")
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    status = Assistant.load().status()
    print(status.line())
    for problem in status.problems:
        print(f"  skipped {problem}")
    return 0


def _project_root():  # type: ignore[no-untyped-def]
    from pathlib import Path

    import qa

    return Path(qa.__file__).resolve().parent.parent


def cmd_serve(args: argparse.Namespace) -> int:
    import runpy

    ui = _project_root() / "ui.py"
    if not ui.exists():
        raise QAError(f"No chat app at {ui}; run 'qa serve' from a source checkout")
    sys.argv = [str(ui), *args.rest]
    runpy.run_path(str(ui), run_name="__main__")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(_project_root()))
    try:
        from evals.runner import main as eval_main
    except ImportError as exc:
        raise QAError(f"Evaluation suite not found ({exc}); run 'qa eval' from a source checkout") from exc
    return int(eval_main(args.rest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("index", help="build the index from corpus/").set_defaults(func=cmd_index)
    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", nargs="+", help="the question ('-' reads it from standard input)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(func=cmd_ask)
    replay = sub.add_parser("replay", help="ask recorded answers (JSON from 'ask --json' or the chat) again "
                                           "and report any difference; exit 1 if one differs")
    replay.add_argument("files", nargs="+", help="answer records (.json)")
    replay.set_defaults(func=cmd_replay)
    sub.add_parser("status", help="what corpus and index are loaded").set_defaults(func=cmd_status)
    sub.add_parser("serve", help="open the chat (options: 'qa serve --help')")
    sub.add_parser("eval", help="run the evaluation sets (options: 'qa eval --help')")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("serve", "eval"):
        # Their options belong to the chat app and the evaluation runner: pass them through untouched.
        args = argparse.Namespace(func=cmd_serve if argv[0] == "serve" else cmd_eval, rest=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
