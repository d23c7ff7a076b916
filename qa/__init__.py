"""Cited, guard-railed question answering over a curated Crohn's disease therapy corpus.

    from qa import Assistant
    answer = Assistant.load().ask("Can upadacitinib be combined with ustekinumab?")
"""

from __future__ import annotations

from qa.assistant import Assistant, Replay, Status
from qa.config import Settings
from qa.guardrail import NOTICE_TEXT as FDA_NOTICE_TEXT
from qa.types import FDA_NOTICE_ID, Answer, Citation, Evidence, QAError, SafetyNotice

__all__ = [
    "FDA_NOTICE_ID", "FDA_NOTICE_TEXT", "Answer", "Assistant", "Citation", "Evidence", "QAError", "Replay",
    "SafetyNotice", "Settings", "Status", "build_index",
]


def build_index(settings: Settings | None = None, *, progress=None) -> dict:  # type: ignore[no-untyped-def]
    """Build (or rebuild) the index for the corpus; returns the index manifest."""
    from qa.corpus import load_corpus
    from qa.embed import make_embedder
    from qa.index import VectorIndex

    settings = settings or Settings()
    embedder = make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
    index = VectorIndex.build(settings, embedder, corpus=load_corpus(settings.corpus_dir), progress=progress)
    return index.manifest
