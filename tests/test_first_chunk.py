"""The reply's first TTS chunk is a short clause; the rest is split into sentences."""

from __future__ import annotations

import asyncio

from avatarkit.engines.first_chunk import FirstChunkTokenizer, first_cut

SAID = ("The capital of France, as you may know, is Paris. It is a large city with many "
        "museums. Come and see it.")


def test_first_cut_waits_for_a_clause_of_three_words_or_seven_words() -> None:
    assert first_cut("Paris, ") is None  # too short a clause to speak on its own
    assert first_cut("The capital of") is None
    text = "The capital of France is Paris. It is "
    assert text[: first_cut(text)] == "The capital of France is Paris."
    text = "Well, the capital, as you know, is Paris"
    assert text[: first_cut(text)] == "Well, the capital,"
    text = "one two three four five six seven eight"
    assert text[: first_cut(text)] == "one two three four five six seven"
    assert first_cut("one two three four five six seven") is None  # "seven" may go on


async def test_stream_sends_the_first_clause_before_the_sentence_ends() -> None:
    stream = FirstChunkTokenizer().stream()
    tokens: list[str] = []

    async def read() -> None:
        async for data in stream:
            tokens.append(data.token)

    reader = asyncio.create_task(read())
    for piece in ["The capital", " of France,", " as you", " may know, is Paris."]:
        stream.push_text(piece)
    await asyncio.sleep(0.05)
    assert tokens == ["The capital of France,"]  # before the sentence is finished
    stream.push_text(" It is a large city with many museums. Come and see it.")
    stream.end_input()
    await asyncio.wait_for(reader, 5)
    await stream.aclose()
    assert tokens[0] == "The capital of France,"
    spoken = " ".join(tokens)
    assert spoken.split() == SAID.split()


async def test_short_reply_is_sent_whole_at_the_end() -> None:
    stream = FirstChunkTokenizer().stream()
    stream.push_text("Yes.")
    stream.end_input()
    tokens = [data.token async for data in stream]
    await stream.aclose()
    assert tokens == ["Yes."]


def test_tokenize_splits_the_same_way() -> None:
    parts = FirstChunkTokenizer().tokenize("Sure, the answer is four. Anything else?")
    assert parts == ["Sure, the answer is four.", "Anything else?"]
    assert " ".join(parts).split() == ["Sure,", "the", "answer", "is", "four.", "Anything", "else?"]
