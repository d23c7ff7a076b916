"""The only module that touches llama-index and FAISS: build, persist, load, check freshness, search.

Layout on disk: `<index_dir>/<settings fingerprint>/` holds the FAISS vectors, the llama-index
docstore and index store, and `manifest.json` (written last: a folder without it is a build
that did not finish). Builds go to a temporary sibling folder and are renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from qa.chunking import chunk_corpus
from qa.config import INDEX_FORMAT, Settings
from qa.corpus import Corpus, corpus_digest, load_corpus
from qa.embed import Embedder
from qa.types import Chunk, DocMeta, Evidence, QAError, Reference

MANIFEST = "manifest.json"
EMBED_KEYS = ("title", "section")  # metadata that is embedded with the chunk text


def _llama_embedding(embedder: Embedder) -> Any:
    """Wrap our embedder as a llama-index BaseEmbedding (never the OpenAI default)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder, **kw: Any) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=64, **kw)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return _Adapter(embedder)


def _chunk_to_node(chunk: Chunk) -> Any:
    from llama_index.core.schema import TextNode

    metadata = {
        "title": chunk.meta.title,
        "section": chunk.section,
        "doc_id": chunk.doc_id,
        "kind": chunk.kind,
        "page": chunk.page,
        "meta": asdict(chunk.meta),
        "reference": asdict(chunk.reference) if chunk.reference else None,
        "evidence": asdict(chunk.evidence) if chunk.evidence else None,
    }
    excluded = [k for k in metadata if k not in EMBED_KEYS]
    return TextNode(
        id_=chunk.id, text=chunk.text, metadata=metadata,
        excluded_embed_metadata_keys=excluded, excluded_llm_metadata_keys=excluded,
    )


def _node_to_chunk(node: Any) -> Chunk:
    md = node.metadata
    meta = dict(md["meta"])
    meta["authors"] = tuple(meta.get("authors") or ())
    ref = md.get("reference")
    ev = md.get("evidence")
    return Chunk(
        id=node.node_id, doc_id=md["doc_id"], text=node.get_content(), section=md["section"],
        kind=md["kind"], meta=DocMeta(**meta), page=md.get("page"),
        reference=Reference(**ref) if ref else None, evidence=Evidence(**ev) if ev else None,
    )


@dataclass(frozen=True)
class IndexStatus:
    state: Literal["ok", "missing", "stale", "corrupt"]
    path: Path
    reason: str = ""


def index_path(settings: Settings) -> Path:
    return settings.index_dir / settings.fingerprint()


def check_index(settings: Settings) -> IndexStatus:
    """Is the index on disk present, complete and built from the current corpus and settings?"""
    path = index_path(settings)
    manifest = path / MANIFEST
    if not path.exists():
        return IndexStatus("missing", path, f"No index at {path}")
    if not manifest.exists():
        return IndexStatus("corrupt", path, f"Index at {path} has no {MANIFEST} (an interrupted build?)")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        return IndexStatus("corrupt", path, f"Index manifest {manifest} is unreadable ({exc})")
    for name in data.get("files", []):
        if not (path / name).exists():
            return IndexStatus("corrupt", path, f"Index file {path / name} is missing")
    if data.get("format") != INDEX_FORMAT or data.get("fingerprint") != settings.fingerprint():
        return IndexStatus("stale", path, "Index was built with other settings")
    digest = corpus_digest(settings.corpus_dir)
    if data.get("corpus_digest") != digest:
        return IndexStatus("stale", path, f"Corpus in {settings.corpus_dir} changed since the index was built")
    return IndexStatus("ok", path)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class VectorIndex:
    """Chunks, their FAISS vectors (inner product on normalised embeddings) and the manifest."""

    def __init__(self, *, index: Any, chunks: list[Chunk], manifest: dict[str, Any], embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder
        self.chunks = chunks
        self.manifest = manifest
        self._by_id = {c.id: c for c in chunks}
        self._retriever: Any = None

    def chunk(self, chunk_id: str) -> Chunk:
        return self._by_id[chunk_id]

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity to an already embedded query."""
        from llama_index.core.schema import QueryBundle

        k = max(1, min(k, len(self.chunks)))
        retriever = self._index.as_retriever(similarity_top_k=k)
        bundle = QueryBundle(query_str="", embedding=[float(x) for x in query_vector])
        return [(self._by_id[n.node.node_id], float(n.score or 0.0)) for n in retriever.retrieve(bundle)]

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        settings: Settings,
        embedder: Embedder,
        *,
        corpus: Corpus | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> VectorIndex:
        """Chunk and embed the corpus, then persist atomically under the index folder."""
        import faiss
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.vector_stores.faiss import FaissVectorStore

        started = time.perf_counter()
        corpus = corpus or load_corpus(settings.corpus_dir)
        if not corpus.documents:
            problems = "; ".join(str(p) for p in corpus.problems) or "the folder is empty"
            raise QAError(f"No readable documents in {settings.corpus_dir} ({problems}); add .md, .txt, .pdf, .html or JATS .xml files")
        chunks = chunk_corpus(corpus.documents, max_chars=settings.chunk_max_chars)
        nodes = [_chunk_to_node(c) for c in chunks]
        # Embed in batches ourselves, so progress can be reported on large corpora.
        from llama_index.core.schema import MetadataMode

        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        step = max(1, settings.embed_batch_size * 4)
        for start in range(0, len(texts), step):
            vectors[start : start + step] = embedder.embed(texts[start : start + step])
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        for node, vec in zip(nodes, vectors):
            node.embedding = vec.tolist()

        store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(embedder.dim))
        storage = StorageContext.from_defaults(vector_store=store)
        index = VectorStoreIndex(nodes, storage_context=storage, embed_model=_llama_embedding(embedder))

        settings.index_dir.mkdir(parents=True, exist_ok=True)
        final = index_path(settings)
        tmp = Path(tempfile.mkdtemp(dir=settings.index_dir, prefix=".build-"))
        try:
            index.storage_context.persist(persist_dir=str(tmp))
            files = sorted(p.name for p in tmp.iterdir())
            manifest = {
                "format": INDEX_FORMAT,
                "fingerprint": settings.fingerprint(),
                "corpus_digest": corpus.digest,
                "embedder": embedder.name,
                "dim": embedder.dim,
                "chunk_max_chars": settings.chunk_max_chars,
                "faiss_index": "IndexFlatIP",
                "documents": [
                    {"doc_id": d.doc_id, "path": d.path, "title": d.meta.title, "sha256": d.sha256,
                     "chunks": sum(1 for c in chunks if c.doc_id == d.doc_id)}
                    for d in corpus.documents
                ],
                "problems": [str(p) for p in corpus.problems],
                "chunk_ids": [c.id for c in chunks],
                "n_chunks": len(chunks),
                "files": files,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            _atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=1))
            old = None
            if final.exists():
                old = final.with_name(f".old-{final.name}-{os.getpid()}")
                os.replace(final, old)
            os.replace(tmp, final)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(index=index, chunks=chunks, manifest=manifest, embedder=embedder)

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder) -> VectorIndex:
        """Load a complete index; a missing or damaged one is a QAError that says what to run."""
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.vector_stores.faiss import FaissVectorStore

        status = check_index(settings)
        if status.state in ("missing", "corrupt"):
            raise QAError(f"{status.reason}; run 'qa index' to build it")
        path = status.path
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("embedder") != embedder.name:
                raise QAError(f"Index at {path} was built with {manifest.get('embedder')}, not {embedder.name}; run 'qa index'")
            store = FaissVectorStore.from_persist_dir(str(path))
            storage = StorageContext.from_defaults(vector_store=store, persist_dir=str(path))
            index = load_index_from_storage(storage, embed_model=_llama_embedding(embedder))
            nodes = storage.docstore.docs
            chunks = [_node_to_chunk(nodes[cid]) for cid in manifest["chunk_ids"]]
            if store._faiss_index.ntotal != len(chunks):  # noqa: SLF001 - integrity check
                raise ValueError(f"{store._faiss_index.ntotal} vectors for {len(chunks)} chunks")  # noqa: SLF001
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001 - any damage to the files means the same fix
            raise QAError(f"Index at {path} is unreadable ({type(exc).__name__}: {exc}); run 'qa index' to rebuild it") from exc
        return cls(index=index, chunks=chunks, manifest=manifest, embedder=embedder)
