"""Optional LLM answer generation: numbered passages in, sentences with [n] out, verified before use.

A chat model (an OpenAI-compatible server, a local GGUF through llama-cpp-python, or any
llama-index LLM) is given the retrieved passages numbered [1]..[k] and must end every sentence
with the number(s) of the passage(s) it rests on. Its output is never shown as is:

* citations to numbers that were not handed to it are removed;
* a sentence left without a citation is dropped;
* a cited sentence is kept only when its passages support it (`qa.cite.supports_paraphrase`:
  most content words and every number), with only the citations that are needed;
* when no sentence, or fewer than half of them, survive, or the model fails, the answer is the
  extractive one (quotes of the passages) with a note that says so.

The guardrail then runs on the result exactly as for extractive answers: the FDA notice is
attached by code and no model output can remove or weaken it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from qa.cite import normalise, verify
from qa.compose import ExtractiveComposer
from qa.config import Settings
from qa.retrieve import Retrieval
from qa.textparse import split_sentences, strip_ref_markers
from qa.types import Claim, CitedDraft, Draft, Hit, QAError

log = logging.getLogger(__name__)

Message = dict[str, str]


class LLMError(Exception):
    """The model could not produce an answer (server down, HTTP error, timeout, bad response)."""


@runtime_checkable
class ChatModel(Protocol):
    """What the generative composer needs from a model: a name and streamed text for chat messages."""

    name: str

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer's text in pieces (one piece is fine); raise LLMError on failure."""
        ...


# -- prompt ---------------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You answer questions about the therapy of Crohn's disease using ONLY the numbered passages "
    "you are given. Rules:\n"
    "1. Write at most {max_sentences} short sentences in plain text.\n"
    "2. End EVERY sentence with the number of the passage that supports it in square brackets, "
    "like [1] or [2][3]. Use only the passage numbers given.\n"
    "3. Copy numbers (counts, percentages, doses, weeks) exactly as the passage gives them.\n"
    "4. Use no knowledge from outside the passages. If they do not answer the question, "
    "say so in one sentence."
)


def passage_block(number: int, hit: Hit) -> str:
    lines = (" ".join(line.split()) for line in strip_ref_markers(hit.chunk.text).splitlines())
    text = "\n".join(line for line in lines if line)
    return f"[{number}] ({hit.chunk.locator})\n{text}"


def build_messages(question: str, hits: Sequence[Hit], *, context: str = "", max_sentences: int = 6) -> list[Message]:
    """The chat: rules as the system message; numbered passages, then the question, as the user message."""
    passages = "\n\n".join(passage_block(i, h) for i, h in enumerate(hits, start=1))
    earlier = f"Earlier question in this conversation: {context}\n" if context else ""
    user = (
        f"Passages:\n\n{passages}\n\n{earlier}Question: {question}\n\n"
        "Answer from the passages; put [n] after every sentence."
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(max_sentences=max_sentences)},
        {"role": "user", "content": user},
    ]


# -- parsing the model's text ---------------------------------------------------------------------

_MARK = re.compile(
    r"[\[【]\s*(?:(?:passage|source|ref\.?|reference)\s*)?(\d{1,3}(?:\s*(?:[-–,;]|and)\s*\d{1,3})*)\s*[\]】]",
    re.IGNORECASE,
)
_MARK_AFTER_STOP = re.compile(r"([.!?])((?:\s*" + _MARK.pattern + r")+)", re.IGNORECASE)
_LEADING_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*•+]\s+|\d{1,2}[.)]\s+)+")
_LABEL = re.compile(r"^\s*(?:\*\*|__)?(?:answer|response|summary)\s*[:.]\s*(?:\*\*|__)?\s*", re.IGNORECASE)
_LINK = re.compile(r"!?\[([^\]]{0,200})\]\([^)]{0,500}\)")
_INLINE_MARKUP = re.compile(r"<[^>]{0,200}>|\*\*|__|~~|[`*#<>\[\]]")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_HAS_CONTENT = re.compile(r"[^\W_]", re.UNICODE)
_ENDED = re.compile(r"[.!?:;)\"”'’]$")
_OPEN_MARK = re.compile(r"[\[【][^\]】\n]{0,40}$")


@dataclass(frozen=True)
class GeneratedSentence:
    """One sentence of the model's answer: its text without marks, the valid passage numbers it
    cites (1-based, first-mention order) and the numbers it cited that were never given."""

    text: str
    numbers: tuple[int, ...]
    unknown: tuple[int, ...] = ()


def _expand(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", spec):
        bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x.strip().isdigit()]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 20:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def _clean(text: str) -> str:
    """Plain text: no Markdown links, emphasis, code, headings or HTML from the model reach the chat."""
    text = _LINK.sub(r"\1", text)
    text = _INLINE_MARKUP.sub("", text)
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,;:!?)])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    return text.strip(" -–—")


def _pieces(text: str) -> list[str]:
    """Sentences of the raw text, each with the citation marks that belong to it."""
    text = _THINK.sub(" ", text)
    pieces: list[str] = []
    for line in text.splitlines():
        line = _LABEL.sub("", _LEADING_MARKUP.sub("", line))
        line = _MARK_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", line)  # "x. [1] Y" -> "x [1]. Y"
        for s in split_sentences(line):
            rest = _MARK.sub("", s)
            if pieces and not _HAS_CONTENT.search(rest):  # only marks (or punctuation): they cite the previous one
                pieces[-1] = f"{pieces[-1]} {s}"
            elif _HAS_CONTENT.search(rest):
                pieces.append(s)
    return pieces


def _sentence(piece: str, n_passages: int) -> GeneratedSentence:
    cited = [n for m in _MARK.finditer(piece) for n in _expand(m.group(1))]
    valid = tuple(dict.fromkeys(n for n in cited if 1 <= n <= n_passages))
    unknown = tuple(dict.fromkeys(n for n in cited if not 1 <= n <= n_passages))
    return GeneratedSentence(text=_clean(_MARK.sub(" ", piece)), numbers=valid, unknown=unknown)


def parse_answer(text: str, n_passages: int) -> list[GeneratedSentence]:
    """Split the model's text into sentences with their valid [n] (1..n_passages) and unknown ones."""
    return [s for s in (_sentence(p, n_passages) for p in _pieces(text)) if _HAS_CONTENT.search(s.text)]


class SentenceStream:
    """Incremental `parse_answer`: feed text pieces, get each sentence once it is complete.

    A sentence is complete when the next one has begun (its citation marks may follow its
    full stop), or when the text ends (`close`).
    """

    def __init__(self, n_passages: int) -> None:
        self.n_passages = n_passages
        self.text = ""
        self._done = 0

    def feed(self, piece: str) -> list[GeneratedSentence]:
        self.text += piece
        return self._take(final=False)

    def close(self) -> list[GeneratedSentence]:
        return self._take(final=True)

    def _take(self, *, final: bool) -> list[GeneratedSentence]:
        text = self.text if final else _OPEN_MARK.sub("", self.text)  # '... held. [2' may become '[2]'
        pieces = _pieces(text)
        ready = pieces if final else pieces[:-1]
        out = [_sentence(p, self.n_passages) for p in ready[self._done:]]
        self._done = max(self._done, len(ready))
        return [s for s in out if _HAS_CONTENT.search(s.text)]


# -- the composer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationReport:
    """What happened to one generated answer (for logs, tests and the integration run)."""

    generator: str
    raw: str = ""
    sentences: int = 0  # distinct sentences the model wrote
    supported: int = 0  # kept: cited, and supported by the cited passages
    uncited: int = 0  # no valid [n] left after removing unknown numbers
    unsupported: int = 0  # cited, but the cited passages do not support it
    unknown_refs: int = 0  # [n] marks with numbers that were never given
    fell_back: bool = False
    error: str = ""
    called: bool = False  # False when the question was out of scope (no model call)
    first_token_ms: float | None = None
    first_sentence_ms: float | None = None
    generate_ms: float = 0.0


@dataclass(frozen=True)
class Step:
    """One stage of a streamed answer: a verified draft, and on the last step the report."""

    draft: CitedDraft
    final: bool
    report: GenerationReport | None = None


@dataclass
class _State:
    claims: list[Claim] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    sentences: int = 0
    uncited: int = 0
    unsupported: int = 0
    unknown: int = 0
    heading: tuple[int, ...] = ()


class GenerativeComposer:
    """Has a chat model answer from numbered passages; keeps only what the passages support."""

    def __init__(
        self, llm: ChatModel, fallback: ExtractiveComposer, *, max_sentences: int = 6, timeout_s: float = 60.0,
        min_supported_share: float = 0.5,
    ) -> None:
        self.llm = llm
        self.fallback = fallback
        self.max_sentences = max_sentences
        self.timeout_s = timeout_s
        self.min_supported_share = min_supported_share

    @property
    def name(self) -> str:
        return getattr(self.llm, "name", type(self.llm).__name__)

    def compose_cited(
        self, question: str, retrieval: Retrieval, *, context: str = ""
    ) -> tuple[CitedDraft, GenerationReport]:
        """The final verified draft (generated, or the extractive fallback with a note) and its report."""
        step = None
        for step in self.steps(question, retrieval, context=context):
            pass
        assert step is not None and step.report is not None
        return step.draft, step.report

    def steps(self, question: str, retrieval: Retrieval, *, context: str = "", query: str = "") -> Iterator[Step]:
        """Verified drafts as the model writes: each non-final step adds a supported sentence;
        the final step is the answer to show (possibly the extractive fallback, which replaces
        what was streamed). `query` (default: the question) is what the extractive gate scores."""
        hits = retrieval.hits
        extractive = self.fallback.compose(query or question, retrieval)
        if extractive.abstained:  # out of scope: abstain as the extractive composer does, no model call
            yield Step(verify(extractive, hits), final=True, report=GenerationReport(generator=self.name))
            return

        state = _State()
        parser = SentenceStream(len(hits))
        error = ""
        first_token: float | None = None
        first_sentence: float | None = None
        t0 = time.perf_counter()
        try:
            with closing(iter(self.llm.stream(build_messages(
                question, hits, context=context, max_sentences=self.max_sentences,
            )))) as pieces:
                for piece in pieces:
                    if first_token is None and piece:
                        first_token = time.perf_counter()
                    if time.perf_counter() - t0 > self.timeout_s:
                        raise LLMError(f"no complete answer within {self.timeout_s:g} s (setting QA_LLM_TIMEOUT_S)")
                    step = self._take(parser.feed(piece), state, hits)
                    if step is not None:
                        first_sentence = first_sentence or time.perf_counter()
                        yield step
                    if len(state.claims) >= self.max_sentences:
                        break
                else:
                    tail = parser.close()
                    if tail and not tail[-1].numbers and not _ENDED.search(tail[-1].text):
                        tail = tail[:-1]  # cut off mid-sentence (max tokens): not a claim
                    step = self._take(tail, state, hits)
                    if step is not None:
                        first_sentence = first_sentence or time.perf_counter()
                        yield step
        except LLMError as exc:
            error = str(exc)
            log.warning("generator %s failed: %s", self.name, exc)
        except Exception as exc:  # noqa: BLE001 - a broken model must not break the answer
            error = f"{type(exc).__name__}: {exc}"
            log.exception("generator %s failed", self.name)

        ms = (lambda t: None if t is None else (t - t0) * 1000)
        kept = len(state.claims)
        enough = kept > 0 and kept >= self.min_supported_share * state.sentences
        report = GenerationReport(
            generator=self.name, raw=parser.text, sentences=state.sentences, supported=kept,
            uncited=state.uncited, unsupported=state.unsupported, unknown_refs=state.unknown,
            fell_back=bool(error) or not enough, error=error, called=True,
            first_token_ms=ms(first_token), first_sentence_ms=ms(first_sentence),
            generate_ms=(time.perf_counter() - t0) * 1000,
        )
        if report.fell_back:
            if error:
                why = f"The language model could not be used ({_short(error)})"
            elif not state.sentences:
                why = "The language model gave no answer"
            else:
                share = f"only {kept} of" if kept else "none of"
                of = (f"{share} its {state.sentences} sentences were" if state.sentences > 1
                      else "its one sentence was not")
                why = (f"The language model's answer failed the citation check ({of} supported by the passages "
                       "they cite)")
            cited = verify(extractive, hits)
            note = f"{why}, so this answer quotes the sources instead."
            yield Step(replace(cited, note=note), final=True, report=report)
            return
        cited = verify(Draft(claims=tuple(state.claims), abstained=False), hits)
        left_out = state.sentences - kept
        note = (f"{left_out} of the language model's {state.sentences} sentences left out: the passages they "
                "cite do not support them." if left_out else "")
        yield Step(replace(cited, note=note), final=True, report=report)

    def _take(self, sentences: Iterable[GeneratedSentence], state: _State, hits: Sequence[Hit]) -> Step | None:
        """Check new sentences; a Step when one was kept and at least the required share so far is kept."""
        added = False
        for s in sentences:
            if len(state.claims) >= self.max_sentences:
                break
            if _is_echo(s.text, hits):
                # A copied '[2] (source › section)' header line is no claim; its [n] cite the lines under it.
                state.heading = s.numbers
                state.unknown += len(s.unknown)
                continue
            key = normalise(s.text)
            if key in state.seen:  # small models repeat themselves: a repeat neither helps nor counts
                continue
            state.seen.add(key)
            state.sentences += 1
            state.unknown += len(s.unknown)
            numbers = s.numbers or state.heading
            if not numbers:
                state.uncited += 1
                continue
            ids = [hits[n - 1].chunk.id for n in numbers]
            claim = Claim(fragments=(s.text,), chunk_id=ids[0], more_chunk_ids=tuple(ids[1:]), quoted=False)
            if verify(Draft(claims=(claim,), abstained=False), tuple(hits)).sentences:
                state.claims.append(claim)
                added = True
            else:
                state.unsupported += 1
        if not added or len(state.claims) < self.min_supported_share * state.sentences:
            return None
        return Step(verify(Draft(claims=tuple(state.claims), abstained=False), tuple(hits)), final=False)


def _is_echo(text: str, hits: Sequence[Hit]) -> bool:
    """The sentence is (part of) a passage's header line of the prompt: '(Knyazev et al. 2025 › Results)'."""
    def bare(t: str) -> str:
        return " ".join(normalise(re.sub(r"[()\[\]]", " ", t)).split()).strip(" .:")

    mine = bare(text)
    return bool(mine) and any(mine in bare(h.chunk.locator) for h in hits)


def _short(error: str, limit: int = 160) -> str:
    text = " ".join(re.sub(r"[*`<>\[\]#]", "", error).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- models ------------------------------------------------------------------------------------------


class OpenAICompatibleChat:
    """Chat completions over HTTP (`POST {base_url}/chat/completions`, streamed as server-sent events).

    Plain httpx (already a dependency) rather than llama-index's OpenAILike, which would add the
    openai SDK (~20 MB, seconds of import time) for one POST.
    """

    def __init__(
        self, base_url: str, *, model: str = "", api_key: str = "", max_tokens: int = 400,
        temperature: float = 0.0, timeout_s: float = 60.0, transport: Any = None,
    ) -> None:
        import httpx

        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise QAError(f"llm_base_url {base_url!r} is not an http(s) URL; set QA_LLM_BASE_URL, "
                          "e.g. http://127.0.0.1:8080/v1")
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        )

    @property
    def name(self) -> str:
        return f"openai-compatible:{self.model or '?'}"

    def close(self) -> None:
        self._client.close()

    def _resolve_model(self) -> str:
        if self.model:
            return self.model
        url = f"{self.base_url}/models"
        try:
            r = self._client.get(url)
            r.raise_for_status()
            models = [m.get("id") for m in r.json().get("data", []) if isinstance(m, Mapping) and m.get("id")]
        except (self._httpx.HTTPError, ValueError, AttributeError) as exc:
            raise LLMError(f"could not list models at {url}: {type(exc).__name__}") from exc
        if not models:
            raise LLMError(f"the server at {url} lists no models; set QA_LLM_MODEL")
        self.model = str(models[0])
        return self.model

    def stream(self, messages: list[Message]) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        try:
            body = {"model": self._resolve_model(), "messages": messages, "max_tokens": self.max_tokens,
                    "temperature": self.temperature, "stream": True}
            with self._client.stream("POST", url, json=body) as r:
                if r.status_code >= 400:
                    detail = r.read().decode("utf-8", "replace")[:300]
                    log.warning("HTTP %s from %s: %s", r.status_code, url, detail)
                    raise LLMError(f"HTTP {r.status_code} from {url}")
                if "text/event-stream" not in r.headers.get("content-type", ""):
                    data = json.loads(r.read())  # a server that ignores "stream": one JSON answer
                    yield _message_content(data)
                    return
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    data = json.loads(payload)
                    if isinstance(data, Mapping) and data.get("error"):
                        raise LLMError(f"the server reported an error: {str(data['error'])[:200]}")
                    for choice in data.get("choices") or []:
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            yield content
        except self._httpx.TimeoutException as exc:
            raise LLMError(f"timed out waiting for {url}") from exc
        except self._httpx.HTTPError as exc:
            raise LLMError(f"{type(exc).__name__} from {url}") from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise LLMError(f"unexpected response from {url}: {type(exc).__name__}") from exc


def _message_content(data: Any) -> str:
    try:
        return data["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError("the response has no choices[0].message.content") from exc


class LlamaCppChat:
    """A local GGUF model through llama-cpp-python (the optional 'llm' extra).

    llama-cpp-python's own chat completion is used (not llama-index's LlamaCPP): it applies the
    chat template stored in the GGUF file, where LlamaCPP needs a hand-written prompt format
    per model and downloads a model when none is given.
    """

    def __init__(
        self, model_path: str | Path, *, n_ctx: int = 4096, max_tokens: int = 400, temperature: float = 0.0,
        chat_format: str | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise QAError("generator 'llama-cpp' needs llama-cpp-python: pip install -e '.[llm]' "
                          "(or set QA_GENERATOR=extractive)") from exc
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise QAError(f"llm_model_path {str(path)!r} is not a file; set QA_LLM_MODEL_PATH to a .gguf model")
        self.path = path
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, chat_format=chat_format, verbose=False)
        if chat_format is None and not self._llm.metadata.get("tokenizer.chat_template"):
            # No template in the file: llama-cpp-python would fall back to Llama-2's. ChatML is the common case.
            self._llm.chat_format = "chatml"
            self._llm.chat_handler = None

    @property
    def name(self) -> str:
        return f"llama-cpp:{self.path.name}"

    def stream(self, messages: list[Message]) -> Iterator[str]:
        try:
            chunks = self._llm.create_chat_completion(
                messages=messages, max_tokens=self.max_tokens, temperature=self.temperature, stream=True,
            )
            for chunk in chunks:
                for choice in chunk.get("choices", []):
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield content
        except (ValueError, RuntimeError) as exc:  # e.g. the prompt exceeds the context window
            raise LLMError(f"llama-cpp: {exc}") from exc


class LlamaIndexChat:
    """Any llama-index LLM (OpenAILike, LlamaCPP, Ollama, ...) as a ChatModel, through `stream_chat`."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    @property
    def name(self) -> str:
        model = getattr(getattr(self.llm, "metadata", None), "model_name", "") or type(self.llm).__name__
        return f"llama-index:{model}"

    def stream(self, messages: list[Message]) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for response in self.llm.stream_chat(chat):
                if response.delta:
                    yield response.delta
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the integration raises
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc


def as_chat_model(llm: Any) -> ChatModel:
    """A llama-index LLM wrapped in LlamaIndexChat; any other object with `stream` and `name` as is."""
    base = sys.modules.get("llama_index.core.base.llms.base")  # imported already if llm is a llama-index LLM
    if base is not None and isinstance(llm, base.BaseLLM):
        return LlamaIndexChat(llm)
    if callable(getattr(llm, "stream", None)):
        return llm  # type: ignore[no-any-return]
    raise QAError(f"{type(llm).__name__} is not a chat model: it needs stream(messages) (and a name), "
                  "or must be a llama-index LLM")


def make_chat_model(settings: Settings) -> ChatModel | None:
    """The model the settings ask for; None for the extractive generator."""
    if settings.generator == "extractive":
        return None
    if settings.generator == "openai-compatible":
        import os

        return OpenAICompatibleChat(
            settings.llm_base_url, model=settings.llm_model,
            api_key=os.environ.get(settings.llm_api_key_env, "") if settings.llm_api_key_env else "",
            max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature, timeout_s=settings.llm_timeout_s,
        )
    if settings.generator == "llama-cpp":
        if settings.llm_model_path is None:
            raise QAError("generator 'llama-cpp' needs a model file: set QA_LLM_MODEL_PATH to a .gguf path")
        return LlamaCppChat(
            settings.llm_model_path, n_ctx=settings.llm_context_tokens, max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
    raise QAError(f"unknown generator {settings.generator!r}")
