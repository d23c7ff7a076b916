"""Index persistence: build, load, stale and damaged indexes, atomic builds."""

from __future__ import annotations

import json

import pytest

from qa import Assistant, QAError, Settings
from qa.embed import HashEmbedder
from qa.index import MANIFEST, VectorIndex, check_index, index_path


@pytest.fixture()
def settings(tmp_path, corpus_copy) -> Settings:
    return Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "index", embedder="hash", auto_rebuild=False)


def test_missing_index_says_what_to_run(settings: Settings) -> None:
    assert check_index(settings).state == "missing"
    with pytest.raises(QAError, match="run 'qa index'"):
        Assistant.load(settings)


def test_build_then_load_round_trips_chunks(settings: Settings) -> None:
    built = VectorIndex.build(settings, HashEmbedder())
    assert check_index(settings).state == "ok"
    loaded = VectorIndex.load(settings, HashEmbedder())
    assert [c for c in loaded.chunks] == [c for c in built.chunks]
    manifest = json.loads((index_path(settings) / MANIFEST).read_text())
    assert manifest["embedder"] == "hash-256" and manifest["n_chunks"] == len(built.chunks)
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".build-")]


def test_changed_corpus_makes_the_index_stale(settings: Settings) -> None:
    VectorIndex.build(settings, HashEmbedder())
    (settings.corpus_dir / "new.md").write_text("# New\n\nA new document about vedolizumab trough levels.\n")
    status = check_index(settings)
    assert status.state == "stale" and "changed" in status.reason
    with pytest.raises(QAError, match="run 'qa index'"):
        Assistant.load(settings)
    rebuilt = Assistant.load(settings.model_copy(update={"auto_rebuild": True}))
    assert any(c.doc_id == "new" for c in rebuilt.index.chunks)
    assert check_index(settings).state == "ok"


def test_other_chunk_settings_use_another_index_folder(settings: Settings) -> None:
    VectorIndex.build(settings, HashEmbedder())
    other = settings.model_copy(update={"chunk_max_chars": 300})
    assert index_path(other) != index_path(settings)
    assert check_index(other).state == "missing"


def test_interrupted_build_is_detected(settings: Settings) -> None:
    VectorIndex.build(settings, HashEmbedder())
    (index_path(settings) / MANIFEST).unlink()  # what a build killed before its last write leaves
    assert check_index(settings).state == "corrupt"
    with pytest.raises(QAError, match="interrupted build"):
        Assistant.load(settings)


@pytest.mark.parametrize("victim", ["default__vector_store.json", "docstore.json"])
def test_corrupted_files_are_reported_with_the_fix(settings: Settings, victim: str) -> None:
    VectorIndex.build(settings, HashEmbedder())
    (index_path(settings) / victim).write_bytes(b"\x00garbage")
    with pytest.raises(QAError, match="run 'qa index'"):
        Assistant.load(settings)


def test_corrupted_index_is_rebuilt_when_allowed(settings: Settings) -> None:
    VectorIndex.build(settings, HashEmbedder())
    (index_path(settings) / MANIFEST).write_text("{not json")
    a = Assistant.load(settings.model_copy(update={"auto_rebuild": True}))
    assert a.ask("What is STRIDE-II?").citations


def test_failed_build_keeps_the_previous_index(settings: Settings, monkeypatch) -> None:
    VectorIndex.build(settings, HashEmbedder())
    before = (index_path(settings) / MANIFEST).read_text()

    class Boom(HashEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("killed")

    (settings.corpus_dir / "new.md").write_text("# New\n\nText.\n")
    with pytest.raises(RuntimeError):
        VectorIndex.build(settings, Boom())
    assert (index_path(settings) / MANIFEST).read_text() == before
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith((".build-", ".old-"))]


def test_broken_files_are_reported_and_the_rest_indexed(settings: Settings) -> None:
    d = settings.corpus_dir
    (d / "empty.txt").write_bytes(b"")
    (d / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (d / "bad.xml").write_text("<article><unclosed></article>")
    (d / "data.docx").write_bytes(b"PK\x03\x04")
    (d / "copy.txt").write_bytes((d / "knyazev2025_upadacitinib_ustekinumab_cases.txt").read_bytes())
    index = VectorIndex.build(settings, HashEmbedder())
    problems = "\n".join(index.manifest["problems"])
    for name in ["empty.txt", "broken.pdf", "bad.xml", "data.docx", "copy.txt"]:
        assert name in problems
    assert {d["doc_id"] for d in index.manifest["documents"]} == {
        "knyazev2025", "evidence-answer-upa-failure", "fda-rinvoq-label"}


def test_empty_corpus_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "c").mkdir()
    s = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i", embedder="hash")
    with pytest.raises(QAError, match="No readable documents"):
        VectorIndex.build(s, HashEmbedder())
    with pytest.raises(QAError, match="No corpus folder"):
        VectorIndex.build(s.model_copy(update={"corpus_dir": tmp_path / "nope"}), HashEmbedder())


def test_oversized_file_is_reported_and_skipped(settings: Settings) -> None:
    big = settings.corpus_dir / "huge.txt"
    with big.open("wb") as f:  # a sparse 50 MB file: the size check comes before any read
        f.truncate(50 * 1024 * 1024)
    index = VectorIndex.build(settings, HashEmbedder())
    assert any(p.startswith("huge.txt: 50.0 MB is over the 25 MB limit") for p in index.manifest["problems"])
    assert len(index.manifest["documents"]) == 3
