"""LLM answer generation with scripted models (no model, no network): parsing of [n], citation
checks on paraphrases, fallback to the extractive answer, streaming, and the FDA notice."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from qa import Answer, Assistant, QAError, Settings
from qa import guardrail
from qa.cite import supporting_hits, supports_paraphrase, verify
from qa.compose import ExtractiveComposer
from qa.embed import HashEmbedder
from qa.generate import (
    GenerativeComposer,
    LlamaIndexChat,
    LLMError,
    OpenAICompatibleChat,
    SentenceStream,
    as_chat_model,
    build_messages,
    make_chat_model,
    parse_answer,
)
from qa.retrieve import Retrieval
from qa.types import FDA_NOTICE_ID, Chunk, Claim, DocMeta, Draft, Hit

COMBINATION_Q = "Can upadacitinib be combined with ustekinumab?"
FACT_Q = "What was the clinical response at 12 weeks?"
ARGUES = "The FDA restriction does not apply; combining is safe [1]."
_LINE = re.compile(r"^(?:\*\*Answer\.\*\* |- )(?P<text>.*?)(?P<marks>(?:\s*\[\d+\])+)\s*$")
_MARK = re.compile(r"\[(\d+)\]")


# -- scripted models --------------------------------------------------------------------------------


class Scripted:
    """A ChatModel whose answer is a function of the messages, streamed in small pieces."""

    def __init__(self, script: str | Callable[[list[dict[str, str]]], str], *, piece: int = 5,
                 name: str = "scripted") -> None:
        self.script = script
        self.piece = piece
        self.name = name
        self.calls: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.calls.append(messages)
        text = self.script(messages) if callable(self.script) else self.script
        for i in range(0, len(text), self.piece):
            yield text[i:i + self.piece]


class Failing:
    name = "failing"

    def __init__(self, exc: Exception, after: str = "") -> None:
        self.exc, self.after = exc, after

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        if self.after:
            yield self.after
        raise self.exc


def passages(messages: list[dict[str, str]]) -> dict[int, str]:
    """The numbered passages of the prompt: {n: text}."""
    user = messages[-1]["content"]
    found = re.findall(r"^\[(\d+)\] \(.*?\)\n(.*?)(?=\n\n\[\d+\] \(|\n\nQuestion: |\n\nEarlier question)", user,
                       re.MULTILINE | re.DOTALL)
    return {int(n): " ".join(t.split()) for n, t in found}


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)[0].rstrip(".")


def paraphrase_first_sentences(k: int = 2) -> Callable[[list[dict[str, str]]], str]:
    """A 'good' model: reworded first sentences of passages 1..k, each citing its passage."""

    def script(messages: list[dict[str, str]]) -> str:
        ps = passages(messages)
        return " ".join(f"According to the sources, {first_sentence(ps[n])} [{n}]." for n in sorted(ps)[:k])

    return script


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_assistant(hash_assistant: Assistant):
    def make(llm) -> Assistant:  # type: ignore[no-untyped-def]
        return Assistant(settings=hash_assistant.settings, index=hash_assistant.index,
                         embedder=hash_assistant.embedder, llm=llm)

    return make


def claim_lines(answer: Answer) -> list[tuple[str, list[int]]]:
    out = []
    for line in answer.text.splitlines():
        m = _LINE.match(line.strip())
        if m:
            out.append((m.group("text"), [int(n) for n in _MARK.findall(m.group("marks"))]))
    return out


def assert_verified(answer: Answer) -> None:
    """Every [n] is a citation; every claim line is supported by the passages it cites; the notice is there."""
    by_number = {c.number: c for c in answer.citations}
    for n in (int(x) for x in _MARK.findall(answer.text)):
        assert n in by_number, f"[{n}] is not a citation in:\n{answer.text}"
    for text, numbers in claim_lines(answer):
        assert numbers, text
        cited = [by_number[n].chunk.text for n in numbers]
        assert supports_paraphrase(cited, text) or any(
            " ".join(text.split()).lower().rstrip(".") in " ".join(by_number[n].chunk.text.split()).lower()
            for n in numbers
        ), f"unsupported line: {text}"
    assert any(n.id == FDA_NOTICE_ID for n in answer.safety)
    assert "not recommended for use in combination" in answer.text


def assert_prominent_first(answer: Answer) -> None:
    assert answer.prominent
    lead = answer.text.split("\n\n")[0]  # the leading quote: notice, then the off-label flag
    assert lead.startswith("> **⚠️ FDA labeling restriction") and "off-label" in lead


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=cid.split(":")[0], text=text, section="Results", kind="paragraph",
                 meta=DocMeta(title="T", authors=("A Author", "B Author"), year=2025))


def fabricated(question: str, texts: list[str]) -> tuple[ExtractiveComposer, Retrieval]:
    embedder = HashEmbedder()
    hits = tuple(Hit(chunk=chunk(f"d{i}:0000:x", t), score=1.0 / (i + 1)) for i, t in enumerate(texts))
    composer = ExtractiveComposer(embedder, max_sentences=4, min_sentence_score=0.0, min_relevance=0.0)
    return composer, Retrieval(hits=hits, query_vector=embedder.embed([question])[0], best_dense=1.0)


# -- parsing [n] ------------------------------------------------------------------------------------


def test_parse_keeps_valid_marks_and_removes_unknown_numbers() -> None:
    out = parse_answer("Response was 89% at week 12 [1][7]. Remission followed [2, 3]. Nothing here [0].", 3)
    assert [(s.text, s.numbers, s.unknown) for s in out] == [
        ("Response was 89% at week 12.", (1,), (7,)),
        ("Remission followed.", (2, 3), ()),
        ("Nothing here.", (), (0,)),
    ]


def test_parse_handles_marks_after_the_full_stop_ranges_and_words() -> None:
    out = parse_answer("First claim. [1] Second claim.[2-3]\nThird claim [Passage 2].\n[3]", 3)
    assert [(s.text, s.numbers) for s in out] == [
        ("First claim.", (1,)), ("Second claim.", (2, 3)), ("Third claim.", (2, 3)),
    ]


def test_parse_strips_markdown_labels_and_think_blocks() -> None:
    text = "<think>draft [9]</think>**Answer:** Upadacitinib was **added** [1].\n- Second point [2]\n## Heading"
    out = parse_answer(text, 2)
    assert [(s.text, s.numbers) for s in out] == [
        ("Upadacitinib was added.", (1,)), ("Second point", (2,)), ("Heading", ()),
    ]


def test_parse_leaves_no_markup_from_the_model() -> None:
    out = parse_answer("See [the label](http://evil.example/x) and ![img](http://e/i.png) <b>now</b> `code` *x* [1].", 1)
    assert out[0].text == "See the label and img now code x." and out[0].numbers == (1,)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_sentence_stream_matches_the_whole_parse(size: int) -> None:
    text = ("Clinical response: 24/27 patients (89%) [1]. After 26 weeks, e.g. in case 3, remission held. [2]\n"
            "- A list item [3]\nLast sentence without a stop [1]")
    stream = SentenceStream(3)
    got = []
    for i in range(0, len(text), size):
        got += stream.feed(text[i:i + size])
    got += stream.close()
    assert got == parse_answer(text, 3)
    assert stream.text == text


# -- paraphrase support --------------------------------------------------------------------------------

PASSAGE = ("After 12 weeks, clinical response was achieved in 24/27 patients (89%). "
           "RINVOQ is not recommended for use in combination with biological therapies.")


@pytest.mark.parametrize(("sentence", "ok"), [
    ("Clinical response at 12 weeks was seen in 24 of 27 patients (89%).", True),
    ("Clinical response at 12 weeks was seen in 25 of 27 patients.", False),  # a number not in the passage
    ("Clinical response at 52 weeks was achieved.", False),
    ("Clinical remission, endoscopic healing and fistula closure were achieved at 12 weeks.", False),
    ("RINVOQ is recommended for use in combination with biological therapies.", False),  # negation flipped
    ("RINVOQ is not recommended in combination with biological therapies.", True),
    ("Yes.", False),
    ("", False),
])
def test_supports_paraphrase(sentence: str, ok: bool) -> None:
    assert supports_paraphrase(PASSAGE, sentence) is ok


# Seen in the integration run (SmolLM2-135M): the passage's words plus an invented clause.
RISANKIZUMAB = ("Risankizumab represents the strongest alternative after upadacitinib failure based on guideline-level "
                "evidence: (ref. 3)\n- Superior to ustekinumab in TNF-antagonist exposed patients (SEQUENCE trial data)")
DIRECT = ("There is emerging evidence supporting combination therapy of upadacitinib with biologics (infliximab, "
          "risankizumab, ustekinumab, or vedolizumab) in patients with refractory Crohn's disease who have failed "
          "upadacitinib monotherapy, though this approach contradicts FDA labeling and current guidelines.")


@pytest.mark.parametrize(("passage", "sentence"), [
    (RISANKIZUMAB, "Risankizumab represents the strongest alternative after upadacitinib failure based on "
                   "guideline-level evidence, and it is a new option that has been approved by the FDA."),
    (DIRECT, "There is emerging evidence supporting combination therapy of upadacitinib with biologics, which "
             "suggests that it may be a viable treatment option for patients who have failed upadacitinib monotherapy."),
])
def test_an_invented_clause_on_a_copied_sentence_is_not_supported(passage: str, sentence: str) -> None:
    assert not supports_paraphrase(passage, sentence)
    assert supports_paraphrase(passage, sentence.split(", and it is")[0].split(", which")[0] + ".")


def test_paraphrase_support_can_span_passages_and_drops_needless_citations() -> None:
    a = Hit(chunk("a:0:x", "Upadacitinib was added to ustekinumab in 27 patients."), 1.0)
    b = Hit(chunk("b:0:x", "Clinical response reached 89% at week 12."), 0.9)
    c = Hit(chunk("c:0:x", "Sourdough needs a starter."), 0.8)
    sentence = "Upadacitinib added to ustekinumab in 27 patients gave 89% clinical response at week 12."
    assert not supports_paraphrase(a.chunk.text, sentence)
    assert supporting_hits([a, b, c], sentence) == (a, b)
    draft = Draft(claims=(Claim((sentence,), "a:0:x", more_chunk_ids=("c:0:x", "b:0:x"), quoted=False),),
                  abstained=False)
    cited = verify(draft, (a, b, c))
    assert cited.sentences[0].numbers == (1, 2)
    assert [c.chunk.id for c in cited.citations] == ["a:0:x", "b:0:x"]


def test_verify_uses_the_verbatim_check_for_quoted_claims() -> None:
    hit = Hit(chunk("a:0:x", PASSAGE), 1.0)
    paraphrase = "Clinical response at 12 weeks was seen in 24 of 27 patients (89%)."
    assert verify(Draft((Claim((paraphrase,), "a:0:x"),), False), (hit,)).dropped == 1
    assert verify(Draft((Claim((paraphrase,), "a:0:x", quoted=False),), False), (hit,)).dropped == 0
    assert verify(Draft((Claim((paraphrase,), "zzz", quoted=False),), False), (hit,)).dropped == 1


# -- the composer and the assistant -------------------------------------------------------------------


def test_prompt_numbers_the_passages_and_asks_for_marks(hash_assistant: Assistant) -> None:
    r = hash_assistant.retriever.retrieve(FACT_Q)
    messages = build_messages(FACT_Q, r.hits, context="earlier?", max_sentences=4)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "at most 4" in messages[0]["content"] and "[1]" in messages[0]["content"]
    ps = passages(messages)
    assert sorted(ps) == list(range(1, len(r.hits) + 1))
    assert "(ref." not in messages[1]["content"]
    assert messages[1]["content"].rstrip().endswith("put [n] after every sentence.")
    assert "Earlier question in this conversation: earlier?" in messages[1]["content"]


def test_correct_citations_are_kept(make_assistant) -> None:  # type: ignore[no-untyped-def]
    llm = Scripted(paraphrase_first_sentences(2))
    a = make_assistant(llm)
    answer = a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None and report.called and not report.fell_back
    assert report.sentences == report.supported == 2
    assert not answer.abstained and answer.note == ""
    lines = claim_lines(answer)
    assert len(lines) == 2 and all(t.startswith("According to the sources,") for t, _ in lines)
    assert_verified(answer)
    assert answer.generator == "scripted" and a.status().generator == "scripted"
    assert "generate" in answer.timings_ms and answer.timings_ms["total"] >= answer.timings_ms["generate"]


def test_invented_citation_numbers_are_removed(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return f"{first_sentence(ps[1])} [1][42]. {first_sentence(ps[2])} [2]."

    a = make_assistant(Scripted(script))
    answer = a.ask(FACT_Q)
    assert a.last_generation is not None and a.last_generation.unknown_refs == 1
    assert "[42]" not in answer.text and not a.last_generation.fell_back
    assert_verified(answer)


def test_sentence_citing_only_an_unknown_number_is_dropped(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return f"{first_sentence(ps[1])} [1]. {first_sentence(ps[2])} [2]. {first_sentence(ps[3])} [99]."

    a = make_assistant(Scripted(script))
    answer = a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None and (report.sentences, report.supported, report.uncited) == (3, 2, 1)
    assert len(claim_lines(answer)) == 2 and "[99]" not in answer.text
    assert "1 of the language model's 3 sentences left out" in answer.note
    assert "_Note: 1 of the language model's 3 sentences left out" in answer.text
    assert_verified(answer)


def test_a_sentence_cut_off_at_the_end_is_not_a_claim(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        header = re.search(r"^\[1\] (\(.*?\))$", messages[-1]["content"], re.MULTILINE).group(1)
        words = first_sentence(ps[1]).split()
        return f"[1] {header}\n{first_sentence(ps[1])}.\n{' '.join(words[:4])} and the"

    a = make_assistant(Scripted(script))
    a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None and (report.sentences, report.supported) == (1, 1)


def test_uncited_and_unsupported_sentences_are_dropped(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return (f"{first_sentence(ps[1])} [1]. Upadacitinib cures everyone quickly. "
                f"{first_sentence(ps[2])} [2]. Bananas improve fistula healing in 97% of cases [1]. "
                f"{first_sentence(ps[3])} [3].")

    a = make_assistant(Scripted(script))
    answer = a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None
    assert (report.sentences, report.supported, report.uncited, report.unsupported) == (5, 3, 1, 1)
    assert not report.fell_back
    assert "cures everyone" not in answer.text and "Bananas" not in answer.text
    assert_verified(answer)


def test_echoed_passage_headers_are_not_an_answer(make_assistant, hash_assistant) -> None:  # type: ignore[no-untyped-def]
    """A tiny model may copy the '[n] (source › section)' lines of the prompt: that is not an answer."""
    r = hash_assistant.retriever.retrieve(FACT_Q)
    echo = "\n".join(f"[{i}] ({h.chunk.locator})" for i, h in enumerate(r.hits, start=1))
    a = make_assistant(Scripted(echo))
    answer = a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None and report.fell_back and report.sentences == report.supported == 0
    assert answer.note == "The language model gave no answer, so this answer quotes the sources instead."


def test_echo_detection_survives_nested_parentheses() -> None:
    from qa.generate import _is_echo

    hit = Hit(Chunk(id="e:0:x", doc_id="e", text="t", section="Switch to Risankizumab (Preferred Option)",
                    kind="paragraph", meta=DocMeta(title="Evidence answer", label="Evidence answer")), 1.0)
    assert _is_echo("(Evidence answer › Switch to Risankizumab (Preferred Option))", [hit])
    assert _is_echo("[Evidence answer › Switch to Risankizumab]", [hit])
    assert not _is_echo("Risankizumab is the preferred option after failure.", [hit])


def test_a_copied_header_line_cites_the_lines_under_it(make_assistant) -> None:  # type: ignore[no-untyped-def]
    """'[2] (source › section)' on its own line, then the text: the text cites [2] (and is checked)."""
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        header = re.search(r"^\[2\] (\(.*?\))$", messages[-1]["content"], re.MULTILINE).group(1)
        return f"1. [2] {header}\nIn short, {first_sentence(ps[2])}.\n2. [1] {header}\nMade-up filler words here."

    a = make_assistant(Scripted(script))
    answer = a.ask(FACT_Q)
    report = a.last_generation
    assert report is not None and (report.sentences, report.supported, report.unsupported) == (2, 1, 1)
    assert [n for _, n in claim_lines(answer)] == [[1]]  # renumbered: passage 2 is the first source
    assert_verified(answer)


@pytest.mark.parametrize("garbage", [
    "",
    "asdf qwerty zxcv [1]. lorem ipsum dolor.",
    "I am not able to help with that.",
    "[1][2][3]",
    "Upadacitinib [1]. " + "The the the. " * 5,
])
def test_garbage_output_falls_back_to_the_extractive_answer(make_assistant, hash_assistant, garbage) -> None:  # type: ignore[no-untyped-def]
    a = make_assistant(Scripted(garbage))
    answer = a.ask(FACT_Q)
    assert a.last_generation is not None and a.last_generation.fell_back
    extractive = hash_assistant.ask(FACT_Q)
    assert answer.text.startswith(extractive.text.split("\n\n_Safety:")[0])
    assert "quotes the sources instead" in answer.note
    assert f"_Note: {answer.note}_" in answer.text
    assert answer.to_dict()["note"] == answer.note
    assert answer.text.splitlines()[-1].startswith("_Safety:")  # the notice stays last when not prominent
    assert_verified(answer)


def test_less_than_half_supported_falls_back(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return f"{first_sentence(ps[1])} [1]. Made up one [2]. Made up two [3]. Made up three."

    a = make_assistant(Scripted(script))
    answer = a.ask(FACT_Q)
    assert a.last_generation is not None and a.last_generation.fell_back
    assert "only 1 of its 4 sentences" in answer.note


@pytest.mark.parametrize("exc", [LLMError("HTTP 503 from http://x/v1/chat/completions"), RuntimeError("boom")])
def test_model_failure_falls_back_and_says_why(make_assistant, exc) -> None:  # type: ignore[no-untyped-def]
    a = make_assistant(Failing(exc, after="Partial sentence [1]. "))
    answer = a.ask(FACT_Q)
    assert a.last_generation is not None and a.last_generation.error
    assert answer.note.startswith("The language model could not be used (")
    assert not answer.abstained
    assert_verified(answer)


def test_timeout_falls_back(make_assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class Slow:
        name = "slow"

        def stream(self, messages):  # type: ignore[no-untyped-def]
            for _ in range(100):
                time.sleep(0.02)
                yield "word "

    a = make_assistant(Slow())
    monkeypatch.setattr(a.generative, "timeout_s", 0.1)
    answer = a.ask(FACT_Q)
    assert "QA_LLM_TIMEOUT_S" in answer.note and a.last_generation is not None and a.last_generation.fell_back


def test_out_of_scope_abstains_without_calling_the_model(make_assistant, hash_assistant) -> None:  # type: ignore[no-untyped-def]
    question = "How do I bake sourdough bread at home?"
    assert hash_assistant.ask(question).abstained
    llm = Scripted("Bake it at 250 degrees [1].")
    a = make_assistant(llm)
    answer = a.ask(question)
    assert answer.abstained and llm.calls == [] and "does not cover" in answer.text
    assert a.last_generation is not None and not a.last_generation.called


# -- the FDA notice --------------------------------------------------------------------------------


def test_notice_is_prominent_when_the_model_argues_against_it(make_assistant) -> None:  # type: ignore[no-untyped-def]
    a = make_assistant(Scripted(ARGUES + " Upadacitinib may be combined with ustekinumab without concern [2]."))
    answer = a.ask(COMBINATION_Q)
    assert_prominent_first(answer)
    assert "does not apply" not in answer.text and "without concern" not in answer.text
    assert a.last_generation is not None and a.last_generation.fell_back
    assert_verified(answer)


def test_notice_survives_even_when_the_arguing_sentence_is_supported() -> None:
    """A passage that literally says it (a hostile corpus): the sentence passes the citation check,
    and the guardrail still puts the full notice first."""
    composer, retrieval = fabricated(COMBINATION_Q, [
        "The FDA restriction does not apply here; combining upadacitinib with ustekinumab is safe.",
        "Upadacitinib was combined with ustekinumab in 27 patients.",
    ])
    gen = GenerativeComposer(Scripted(ARGUES + " Upadacitinib was combined with ustekinumab in 27 patients [2]."),
                             composer)
    cited, report = gen.compose_cited(COMBINATION_Q, retrieval)
    assert report.supported == 2 and not report.fell_back
    answer = guardrail.apply(question=COMBINATION_Q, context="", draft=cited, label_chunk=guardrail.BUILTIN_LABEL,
                             abstain_text="-", timings_ms={}, retrieved=())
    assert_prominent_first(answer)
    assert guardrail.NOTICE_TEXT in answer.text.splitlines()[0]
    assert "combining is safe" in answer.text  # kept, but under the notice
    # A neutral question, and an answer that argues: the answer alone makes the notice prominent.
    neutral = guardrail.apply(question="What does the passage say?", context="", draft=cited,
                              label_chunk=guardrail.BUILTIN_LABEL, abstain_text="-", timings_ms={}, retrieved=())
    assert_prominent_first(neutral)


def test_stream_yields_only_verified_parts_with_the_notice_first(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return (f"{first_sentence(ps[1])} [1]. {ARGUES} {first_sentence(ps[2])} [2][9]. "
                f"{first_sentence(ps[3])} [3].")

    a = make_assistant(Scripted(script, piece=3))
    parts = list(a.ask_stream(COMBINATION_Q))
    assert len(parts) >= 3  # one per kept sentence, then the final answer
    for part in parts:
        assert_prominent_first(part)
        assert_verified(part)
        assert "does not apply" not in part.text
    sizes = [len(claim_lines(p)) for p in parts]
    assert sizes == sorted(sizes) and sizes[0] == 1
    assert parts[-1].text == a.ask(COMBINATION_Q).text


def test_stream_replaces_streamed_sentences_when_it_falls_back(make_assistant) -> None:  # type: ignore[no-untyped-def]
    def script(messages):  # type: ignore[no-untyped-def]
        ps = passages(messages)
        return f"{first_sentence(ps[1])} [1]. Invented claim one [2]. Invented claim two [2]. Invented three [3]."

    a = make_assistant(Scripted(script))
    parts = list(a.ask_stream(FACT_Q))
    assert parts[-1].note and "quotes the sources instead" in parts[-1].note
    for part in parts:
        assert_verified(part)


def test_extractive_stream_grows_sentence_by_sentence(hash_assistant: Assistant) -> None:
    parts = list(hash_assistant.ask_stream(COMBINATION_Q))
    final = hash_assistant.ask(COMBINATION_Q)
    assert parts[-1].text == final.text and parts[-1].to_dict()["citations"] == final.to_dict()["citations"]
    assert [len(claim_lines(p)) for p in parts] == list(range(1, len(parts) + 1))
    for part in parts:
        assert_prominent_first(part)
        assert_verified(part)
    neutral = list(hash_assistant.ask_stream(FACT_Q))
    assert neutral[-1].text == hash_assistant.ask(FACT_Q).text
    assert all(p.text.splitlines()[-1].startswith("_Safety:") for p in neutral)


def test_stream_raises_question_errors_before_yielding(hash_assistant: Assistant) -> None:
    with pytest.raises(QAError):
        next(iter(hash_assistant.ask_stream("   ")))


def test_to_dict_only_adds_keys(make_assistant, hash_assistant) -> None:  # type: ignore[no-untyped-def]
    old = hash_assistant.ask(FACT_Q).to_dict()
    assert old["note"] == "" and old["generator"] == "extractive"
    new = make_assistant(Scripted("garbage")).ask(FACT_Q).to_dict()
    json.dumps(new)
    assert set(old) == set(new) >= {"question", "text", "citations", "safety", "abstained", "timings_ms", "retrieved"}


# -- models and settings ----------------------------------------------------------------------------


def sse(*deltas: str) -> bytes:
    events = [json.dumps({"choices": [{"index": 0, "delta": {"content": d}}]}) for d in deltas]
    return "".join(f"data: {e}\n\n" for e in events).encode() + b"data: [DONE]\n\n"


def test_openai_compatible_streams_and_discovers_the_model() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "tiny-model"}]})
        body = json.loads(request.content)
        assert body["model"] == "tiny-model" and body["stream"] is True and body["temperature"] == 0
        assert body["max_tokens"] == 64 and body["messages"][0]["role"] == "system"
        return httpx.Response(200, content=sse("Hello", " world [1]."),
                              headers={"content-type": "text/event-stream"})

    chat = OpenAICompatibleChat("http://llm.test/v1/", api_key="sk-test", max_tokens=64,
                                transport=httpx.MockTransport(handler))
    assert "".join(chat.stream([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])) \
        == "Hello world [1]."
    assert chat.name == "openai-compatible:tiny-model"
    assert [r.url.path for r in seen] == ["/v1/models", "/v1/chat/completions"]
    assert seen[1].headers["authorization"] == "Bearer sk-test"


def test_openai_compatible_accepts_a_plain_json_answer_and_no_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        return httpx.Response(200, json={"choices": [{"message": {"content": "Whole answer [1]."}}]})

    chat = OpenAICompatibleChat("http://llm.test/v1", model="m", transport=httpx.MockTransport(handler))
    assert list(chat.stream([{"role": "user", "content": "u"}])) == ["Whole answer [1]."]


@pytest.mark.parametrize("response", [
    httpx.Response(500, text="**boom**"),
    httpx.Response(200, content=b'data: {"error": {"message": "model crashed"}}\n\n',
                   headers={"content-type": "text/event-stream"}),
    httpx.Response(200, content=b"data: not json\n\n", headers={"content-type": "text/event-stream"}),
    httpx.Response(200, json={"unexpected": True}),
])
def test_openai_compatible_errors_become_llm_errors(response: httpx.Response) -> None:
    chat = OpenAICompatibleChat("http://llm.test/v1", model="m", transport=httpx.MockTransport(lambda r: response))
    with pytest.raises(LLMError):
        list(chat.stream([{"role": "user", "content": "u"}]))


def test_openai_compatible_unreachable_server_is_an_llm_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    chat = OpenAICompatibleChat("http://127.0.0.1:9/v1", transport=httpx.MockTransport(refuse))
    with pytest.raises(LLMError, match="could not list models"):
        list(chat.stream([{"role": "user", "content": "u"}]))
    chat.model = "m"
    with pytest.raises(LLMError, match="ConnectError"):
        list(chat.stream([{"role": "user", "content": "u"}]))


def test_settings_choose_the_generator(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert make_chat_model(Settings()) is None
    monkeypatch.setenv("QA_GENERATOR", "openai-compatible")
    monkeypatch.setenv("QA_LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("QA_LLM_MODEL", "qwen")
    monkeypatch.setenv("MY_KEY", "secret-key")
    monkeypatch.setenv("QA_LLM_API_KEY_ENV", "MY_KEY")
    s = Settings()
    assert s.generator == "openai-compatible" and "secret-key" not in s.model_dump_json()
    chat = make_chat_model(s)
    assert isinstance(chat, OpenAICompatibleChat) and chat.name == "openai-compatible:qwen"
    assert chat._client.headers["authorization"] == "Bearer secret-key"
    with pytest.raises(QAError, match="QA_LLM_MODEL_PATH"):
        make_chat_model(Settings(generator="llama-cpp"))
    with pytest.raises(QAError, match="not an http"):
        make_chat_model(Settings(generator="openai-compatible", llm_base_url="localhost:8080"))
    with pytest.raises(ValueError):
        Settings(generator="gpt")
    # The default key variable shares the QA_ prefix: it must not trip extra="forbid" or leak into settings.
    monkeypatch.delenv("QA_LLM_API_KEY_ENV")
    monkeypatch.setenv("QA_LLM_API_KEY", "other-key")
    s = Settings()
    assert "other-key" not in s.model_dump_json()
    assert make_chat_model(s)._client.headers["authorization"] == "Bearer other-key"  # type: ignore[union-attr]


def test_llama_cpp_errors_are_clear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is the optional 'llm' extra")
    with pytest.raises(QAError, match="is not a file"):
        make_chat_model(Settings(generator="llama-cpp", llm_model_path=tmp_path / "missing.gguf"))


def test_llama_index_llms_plug_in(make_assistant) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata

    class Tiny(CustomLLM):
        text: str = ""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="tiny-li")

        def complete(self, prompt: str, formatted: bool = False, **kw) -> CompletionResponse:  # type: ignore[no-untyped-def]
            return CompletionResponse(text=self.text)

        def stream_complete(self, prompt: str, formatted: bool = False, **kw):  # type: ignore[no-untyped-def]
            acc = ""
            for word in self.text.split(" "):
                acc += word + " "
                yield CompletionResponse(text=acc, delta=word + " ")

    chat = as_chat_model(Tiny(text="Response was seen [1]."))
    assert isinstance(chat, LlamaIndexChat) and chat.name == "llama-index:tiny-li"
    assert "".join(chat.stream([{"role": "user", "content": "u"}])).strip() == "Response was seen [1]."
    answer = make_assistant(Tiny(text="garbage garbage [1].")).ask(FACT_Q)
    assert "quotes the sources instead" in answer.note
    with pytest.raises(QAError, match="not a chat model"):
        as_chat_model(object())



def test_generated_answers_get_the_outcome_table_from_the_passages_not_the_model(make_assistant) -> None:  # type: ignore[no-untyped-def]
    # The model invents a figure; the table is read from the retrieved passages and checked.
    llm = Scripted(lambda m: paraphrase_first_sentences(2)(m) + " Clinical response was 97% at 12 weeks [1].")
    answer = make_assistant(llm).ask("What were the 12-week outcomes of upadacitinib combination therapy?")
    assert answer.outcomes, answer.text
    by_number = {c.number: c for c in answer.citations}
    for row in answer.outcomes:
        for number in re.findall(r"\d+", f"{row.time_point} {row.result}"):
            assert number in by_number[row.number].chunk.text
    assert "97%" not in answer.text
    assert answer.off_label and answer.text.startswith("> **⚠️ FDA labeling restriction")
