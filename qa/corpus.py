"""Load the corpus folder: documents in several formats, described by corpus/manifest.toml.

Every problem (unknown format, broken file, duplicate, oversized file) is reported by file
name and loading goes on with the rest.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.textparse import Parsed, authors_from_blocks, parse_plain_text
from qa.types import DocMeta, Document, QAError

MANIFEST = "manifest.toml"
SUFFIXES = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
    ".pdf": "pdf", ".html": "html", ".htm": "html", ".xml": "jats", ".nxml": "jats",
}
IGNORED_NAMES = {MANIFEST, "README.md", ".gitkeep"}
MAX_FILE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """A file that could not be (fully) loaded, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    problems: tuple[Problem, ...]
    digest: str

    def document(self, doc_id: str) -> Document:
        for d in self.documents:
            if d.doc_id == doc_id:
                return d
        raise KeyError(doc_id)


def read_manifest(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    """Manifest entries keyed by file name (`[[document]]` tables with a `file` key)."""
    path = corpus_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise QAError(f"Corpus manifest {path} is not valid TOML ({exc}); fix or remove it") from exc
    entries: dict[str, dict[str, Any]] = {}
    for entry in data.get("document", []):
        if not isinstance(entry, dict) or "file" not in entry:
            raise QAError(f"Corpus manifest {path}: every [[document]] needs a 'file' key")
        entries[str(entry["file"])] = entry
    return entries


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Candidate document files, sorted for a stable order."""
    if not corpus_dir.is_dir():
        raise QAError(f"No corpus folder at {corpus_dir}; create it or set QA_CORPUS_DIR")
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.name not in IGNORED_NAMES and not p.name.startswith(".")
    )


def corpus_digest(corpus_dir: Path) -> str:
    """Hash of every file's name and bytes plus the manifest: changes when the corpus does."""
    h = hashlib.sha256()
    manifest = corpus_dir / MANIFEST
    if manifest.exists():
        h.update(manifest.read_bytes())
    for p in corpus_files(corpus_dir):
        h.update(str(p.relative_to(corpus_dir)).encode())
        h.update(b"\0")
        h.update(_file_hash(p).encode())
    return h.hexdigest()


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def slug(name: str) -> str:
    """A stable document id from a file name."""
    stem = name.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise ValueError("binary content in a text file")
    for enc in ("utf-8-sig", "cp1251", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError("cannot decode text")


def parse_file(path: Path, fmt: str, data: bytes, entry: dict[str, Any]) -> Parsed:
    """Dispatch one file to the parser for its format."""
    if fmt == "text":
        return parse_plain_text(_decode(data), trailing_refs=int(entry.get("trailing_refs", 0)))
    from qa import formats  # local import: the HTML, XML and PDF parsers load only when needed

    if fmt == "markdown":
        return formats.parse_markdown(_decode(data))
    if fmt == "html":
        return formats.parse_html(data)
    if fmt == "jats":
        return formats.parse_jats(data)
    if fmt == "pdf":
        return formats.parse_pdf(data)
    raise ValueError(f"unsupported format {fmt}")


def _meta(parsed: Parsed, entry: dict[str, Any], path: Path) -> DocMeta:
    authors = entry.get("authors") or parsed.authors or authors_from_blocks(parsed.blocks)
    year = entry.get("year", parsed.year)
    return DocMeta(
        title=str(entry.get("title") or parsed.title or path.stem.replace("_", " ")),
        authors=tuple(str(a) for a in authors),
        year=int(year) if year else None,
        journal=str(entry.get("journal", parsed.journal or "")),
        doi=str(entry.get("doi", parsed.doi or "")),
        url=str(entry.get("url", "")),
        licence=str(entry.get("licence", "")),
        kind=str(entry.get("kind", "")),
        label=str(entry.get("label", "")),
        n=_positive_int(entry.get("n"), "n", path),
        follow_up=str(entry.get("follow_up", "")),
    )


def _positive_int(value: Any, field: str, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"manifest field {field} = {value!r} for {path.name} must be a whole number of "
                         "patients (1 or more); fix or remove it in corpus/manifest.toml")
    return value


def load_corpus(corpus_dir: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> Corpus:
    """Load every document of the folder; broken files become Problems, not exceptions."""
    manifest = read_manifest(corpus_dir)
    documents: list[Document] = []
    problems: list[Problem] = []
    seen_hashes: dict[str, str] = {}
    seen_ids: set[str] = set()
    # Files the manifest describes come first, so a stray copy never displaces the curated one.
    files = sorted(corpus_files(corpus_dir), key=lambda p: (p.name not in manifest and str(p.relative_to(corpus_dir)) not in manifest, str(p)))
    for path in files:
        rel = str(path.relative_to(corpus_dir))
        fmt = SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            problems.append(Problem(rel, f"unknown format '{path.suffix}'; supported: "
                                         + ", ".join(sorted(set(SUFFIXES)))))
            continue
        size = path.stat().st_size
        if size == 0:
            problems.append(Problem(rel, "empty file"))
            continue
        if size > max_file_bytes:
            problems.append(Problem(rel, f"{size / 2**20:.1f} MB is over the {max_file_bytes / 2**20:.0f} MB limit"))
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen_hashes:
            problems.append(Problem(rel, f"duplicate of {seen_hashes[digest]}; skipped"))
            continue
        entry = manifest.get(rel, manifest.get(path.name, {}))
        try:
            parsed = parse_file(path, fmt, data, entry)
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the corpus
            problems.append(Problem(rel, f"cannot read as {fmt}: {exc}"))
            continue
        try:
            meta = _meta(parsed, entry, path)
        except ValueError as exc:
            problems.append(Problem(rel, str(exc)))
            continue
        blocks = tuple(b for b in parsed.blocks if b.text.strip())
        if not blocks:
            problems.append(Problem(rel, "no text found"))
            continue
        doc_id = str(entry.get("id") or slug(path.name))
        if doc_id in seen_ids:
            doc_id = f"{doc_id}-{digest[:6]}"
        seen_ids.add(doc_id)
        seen_hashes[digest] = rel
        documents.append(Document(doc_id=doc_id, path=rel, sha256=digest,
                                  meta=meta, blocks=blocks))
    for name in manifest:
        if not (corpus_dir / name).exists():
            problems.append(Problem(name, "listed in manifest.toml but missing"))
    return Corpus(documents=tuple(documents), problems=tuple(problems), digest=corpus_digest(corpus_dir))

