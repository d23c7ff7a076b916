"""Question sets: JSON-lines files in evals/sets/, loaded and validated line by line.

Every problem is reported as `<file>:<line>: <what is wrong>` so that whoever wrote the set
can find and fix it without reading code. The format is described in evals/README.md.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETS_DIR = Path(__file__).resolve().parent / "sets"
# Sets that are not JSON-lines files in SETS_DIR and are never part of the default run.
OPTIONAL_SETS = ("scifact",)

FIELDS = {"id", "question", "facts", "docs", "prominent", "abstain", "table", "history", "tags", "note"}


class SetError(ValueError):
    """A set file (or a set name) that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Item:
    """One curated question and what a correct answer must show."""

    set: str
    id: str
    question: str
    facts: tuple[tuple[str, ...], ...] = ()  # every group must appear; any alternative within a group
    docs: tuple[str, ...] = ()  # documents the retriever should return
    prominent: bool | None = None  # True: notice must be prominent; False: must not; None: either
    abstain: bool | None = False  # True: must abstain; False: must answer; None: either
    table: bool = False  # True: the answer must contain an outcome table (at least one row)
    history: tuple[dict[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    note: str = ""
    source: str = ""  # "file:line", for messages

    @property
    def key(self) -> str:
        return f"{self.set}/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": self.set, "id": self.id, "question": self.question,
            "facts": [list(g) for g in self.facts], "docs": list(self.docs),
            "prominent": self.prominent, "abstain": self.abstain, "table": self.table,
            "history": [dict(h) for h in self.history], "tags": list(self.tags), "note": self.note,
            "source": self.source,
        }


@dataclass
class QuestionSet:
    name: str
    path: Path
    items: list[Item] = field(default_factory=list)


def _where(path: Path, line: int) -> str:
    try:
        shown = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = path
    return f"{shown}:{line}"


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SetError(f"{where}: '{what}' must be a list of non-empty strings, got {json.dumps(value, ensure_ascii=False)}")
    return tuple(v.strip() for v in value)


def _facts(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise SetError(f"{where}: 'facts' must be a list such as [\"26 weeks\", [\"24/27\", \"89%\"]], "
                       f"got {json.dumps(value, ensure_ascii=False)}")
    groups: list[tuple[str, ...]] = []
    for i, fact in enumerate(value, 1):
        if isinstance(fact, str) and fact.strip():
            groups.append((fact.strip(),))
        elif isinstance(fact, list) and fact and all(isinstance(f, str) and f.strip() for f in fact):
            groups.append(tuple(f.strip() for f in fact))
        else:
            raise SetError(f"{where}: fact {i} must be a non-empty string or a list of alternative strings, "
                           f"got {json.dumps(fact, ensure_ascii=False)}")
    return tuple(groups)


def _history(value: Any, where: str) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list):
        raise SetError(f"{where}: 'history' must be a list of {{\"role\": ..., \"content\": ...}} turns")
    turns = []
    for i, turn in enumerate(value, 1):
        if (not isinstance(turn, dict) or set(turn) != {"role", "content"}
                or turn["role"] not in ("user", "assistant") or not isinstance(turn["content"], str)):
            raise SetError(f"{where}: history turn {i} must be {{\"role\": \"user\" or \"assistant\", "
                           f"\"content\": \"...\"}}, got {json.dumps(turn, ensure_ascii=False)}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    return tuple(turns)


def _tristate(obj: dict[str, Any], key: str, default: bool | None, where: str) -> bool | None:
    value = obj.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise SetError(f"{where}: '{key}' must be true, false or null, got {json.dumps(value, ensure_ascii=False)}")
    return value


def parse_line(obj: Any, *, set_name: str, where: str) -> Item:
    """One decoded JSON line -> Item, or a SetError naming `where`."""
    if not isinstance(obj, dict):
        raise SetError(f"{where}: each line must be a JSON object {{...}}, got {type(obj).__name__}")
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise SetError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}")
    for key in ("id", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise SetError(f"{where}: '{key}' is required and must be a non-empty string")
    note = obj.get("note", "")
    if not isinstance(note, str):
        raise SetError(f"{where}: 'note' must be a string")
    table = obj.get("table", False)
    if not isinstance(table, bool):
        raise SetError(f"{where}: 'table' must be true or false, got {json.dumps(table, ensure_ascii=False)}")
    return Item(
        set=set_name,
        id=obj["id"].strip(),
        question=obj["question"],
        facts=_facts(obj.get("facts", []), where),
        docs=_strings(obj.get("docs", []), "docs", where),
        prominent=_tristate(obj, "prominent", None, where),
        abstain=_tristate(obj, "abstain", False, where),
        table=table,
        history=_history(obj.get("history", []), where),
        tags=_strings(obj.get("tags", []), "tags", where),
        note=note,
        source=where,
    )


def load_set(path: Path | str, *, name: str | None = None, known_docs: set[str] | None = None) -> QuestionSet:
    """Read and validate one JSON-lines set; blank lines and lines starting with '#' are skipped."""
    path = Path(path)
    name = name or path.stem
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SetError(f"{path}: no such set file") from None
    except UnicodeDecodeError as exc:
        raise SetError(f"{path}: not UTF-8 text ({exc})") from None
    qset = QuestionSet(name=name, path=path)
    seen: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = _where(path, number)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SetError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                           "each line must be one complete JSON object") from None
        item = parse_line(obj, set_name=name, where=where)
        if item.id in seen:
            raise SetError(f"{where}: id '{item.id}' is already used at {seen[item.id]}")
        if known_docs is not None:
            bad = [d for d in item.docs if d not in known_docs]
            if bad:
                raise SetError(f"{where}: unknown document id(s) {', '.join(bad)}; "
                               f"the corpus has {', '.join(sorted(known_docs))}")
        if item.abstain is True and (item.facts or item.docs or item.table):
            raise SetError(f"{where}: a question that must be abstained on cannot also list facts or docs "
                           "or require a table")
        seen[item.id] = where
        qset.items.append(item)
    if not qset.items:
        raise SetError(f"{path}: the set has no questions")
    return qset


def default_set_paths() -> list[Path]:
    return sorted(SETS_DIR.glob("*.jsonl"))


def resolve_set(spec: str) -> Path:
    """A set name ('facts', from evals/sets/) or a path to a .jsonl file -> its path."""
    candidate = Path(spec)
    if candidate.suffix == ".jsonl" or candidate.exists() or "/" in spec:
        if not candidate.exists():
            raise SetError(f"{spec}: no such set file")
        return candidate
    path = SETS_DIR / f"{spec}.jsonl"
    if path.exists():
        return path
    names = [p.stem for p in default_set_paths()] + [f"{n} (optional)" for n in OPTIONAL_SETS]
    raise SetError(f"Unknown set '{spec}'; the sets are: {', '.join(names)} (or give a path to a .jsonl file)")


def manifest_doc_ids(corpus_dir: Path) -> dict[str, str]:
    """file name -> document id, from the corpus manifest.toml (empty when there is none)."""
    path = Path(corpus_dir) / "manifest.toml"
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(d["file"]): str(d.get("id") or Path(str(d["file"])).stem)
            for d in data.get("document", []) if isinstance(d, dict) and "file" in d}
