"""Section- and sentence-aware chunks with stable ids and human-readable locators."""

from __future__ import annotations

import hashlib
import re

from qa.evidence import evidence_by_block
from qa.textparse import reference_text, split_sentences
from qa.types import Block, Chunk, Document


# "[3]" or "[1, 2]" inside a document is the document's own reference marker. It becomes
# "(ref. 3)" so that an answer quoting the sentence never shows a number that is not ours.
_DOC_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,–-]\s*\d{1,3})*)\]")


def neutralise_markers(text: str) -> str:
    """Rewrite bracketed numeric markers of a source text as '(ref. n)'."""
    return _DOC_MARKER.sub(lambda m: f"(ref. {m.group(1)})", text)


def _chunk_id(doc_id: str, section: str, text: str, ordinal: int) -> str:
    # Content-derived, so ids survive re-indexing of an unchanged document.
    h = hashlib.sha1(f"{section}\0{text}".encode()).hexdigest()[:10]
    return f"{doc_id}:{ordinal:04d}:{h}"


def _split_list(block: Block, max_chars: int) -> list[str]:
    """Long lists are split between items; every piece repeats the lead-in."""
    lines = block.text.split("\n")
    lead = "" if lines[0].startswith("- ") else lines[0]
    items = lines[1:] if lead else lines
    pieces: list[str] = []
    cur: list[str] = []
    for item in items:
        if cur and len("\n".join([lead, *cur, item])) > max_chars:
            pieces.append("\n".join([x for x in [lead, *cur] if x]))
            cur = []
        cur.append(item)
    if cur or not pieces:
        pieces.append("\n".join([x for x in [lead, *cur] if x]))
    return pieces


def _split_paragraph(text: str, max_chars: int) -> list[str]:
    """Pack whole sentences into pieces of at most max_chars (a longer sentence stands alone).

    Each piece after the first repeats the previous sentence, so a sentence that leans on the
    one before it ("After 26 weeks of combination therapy, ...") keeps its subject.
    """
    pieces: list[list[str]] = []
    cur: list[str] = []
    for sent in split_sentences(text):
        if cur and len(" ".join(cur)) + 1 + len(sent) > max_chars:
            pieces.append(cur)
            cur = [cur[-1]] if len(cur[-1]) + len(sent) < max_chars else []
        cur.append(sent)
    if cur and (not pieces or cur != pieces[-1][-len(cur):]):
        pieces.append(cur)
    return [" ".join(p) for p in pieces]


def chunk_document(doc: Document, *, max_chars: int) -> list[Chunk]:
    """Chunks of one document: never across sections, never inside a sentence."""
    chunks: list[Chunk] = []
    # Short neighbouring paragraphs of a section are merged so a chunk carries context.
    pending: list[Block] = []
    evidence = {id(b): e for b, e in zip(doc.blocks, evidence_by_block(doc.meta, doc.blocks))}

    def emit(text: str, block: Block) -> None:
        text = neutralise_markers(text)
        chunks.append(Chunk(
            id=_chunk_id(doc.doc_id, block.section, text, len(chunks)),
            doc_id=doc.doc_id, text=text, section=block.section, kind=block.kind,
            meta=doc.meta, page=block.page, reference=block.reference, evidence=evidence.get(id(block)),
        ))

    def flush() -> None:
        if not pending:
            return
        text = " ".join(b.text for b in pending)
        for piece in _split_paragraph(text, max_chars):
            emit(piece, pending[0])
        pending.clear()

    for block in doc.blocks:
        if block.kind == "paragraph":
            joinable = pending and pending[-1].section == block.section and pending[-1].page == block.page
            if pending and (not joinable or sum(len(b.text) for b in pending) + len(block.text) > max_chars):
                flush()
            pending.append(block)
            continue
        flush()
        if block.kind == "list":
            for piece in _split_list(block, max_chars):
                emit(piece, block)
        elif block.kind == "reference" and block.reference is not None:
            emit(reference_text(block.reference, doc.meta.short()), block)
        else:
            for piece in _split_paragraph(block.text, max_chars):
                emit(piece, block)
    flush()
    return chunks


def chunk_corpus(docs: tuple[Document, ...] | list[Document], *, max_chars: int) -> list[Chunk]:
    """Chunks of every document, in corpus order."""
    return [c for d in docs for c in chunk_document(d, max_chars=max_chars)]
