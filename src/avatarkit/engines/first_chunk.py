"""A sentence tokenizer whose first chunk is short: the reply's voice starts sooner.

LiveKit's TTS stream adapter hands a non-streaming TTS (Piper, espeak-ng) one sentence at
a time, and a sentence only counts as complete once the LLM has written some of the next
one (or ended). The first audio of a reply then waits for the LLM's whole first sentence
plus a few tokens. :class:`FirstChunkTokenizer` cuts the first chunk of each reply at its
first clause or sentence end after :data:`MIN_WORDS` words, or after :data:`MAX_WORDS`
words at a word boundary; everything after it goes through the usual sentence tokenizer.
Piper speaks the cut chunk with a natural pause after it (it ends a clause, or is a
run of seven words), and the next chunk follows while the first plays.
"""

from __future__ import annotations

import asyncio
import re

from livekit.agents import tokenize, utils
from livekit.agents.tokenize.tokenizer import SentenceStream, TokenData

MIN_WORDS = 3  # a clause shorter than this sounds clipped on its own
MAX_WORDS = 7  # no clause end by then: cut at a word boundary
_CLAUSE_END = re.compile(r"[,;:.!?](?=\s)")


def first_cut(text: str) -> int | None:
    """Where the first chunk of ``text`` (a reply's opening, streamed) may end, or ``None``
    while more text is needed: after a clause/sentence end that follows at least
    :data:`MIN_WORDS` words, else after :data:`MAX_WORDS` complete words."""
    for match in _CLAUSE_END.finditer(text):
        if len(text[: match.end()].split()) >= MIN_WORDS:
            return match.end()
    words = list(re.finditer(r"\S+(?=\s)", text))
    if len(words) >= MAX_WORDS:
        return words[MAX_WORDS - 1].end()
    return None


class FirstChunkTokenizer(tokenize.SentenceTokenizer):
    """Sentences as ``inner`` (default blingfire) splits them, but a short first chunk."""

    def __init__(self, inner: tokenize.SentenceTokenizer | None = None) -> None:
        self._inner = inner or tokenize.blingfire.SentenceTokenizer(retain_format=True)

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        cut = first_cut(text)
        if cut is None:
            return self._inner.tokenize(text, language=language)
        rest = self._inner.tokenize(text[cut:].lstrip(), language=language)
        return [text[:cut].strip(), *rest]

    def stream(self, *, language: str | None = None) -> SentenceStream:
        return _FirstChunkStream(self._inner.stream(language=language))


class _FirstChunkStream(SentenceStream):
    def __init__(self, inner: SentenceStream) -> None:
        super().__init__()
        self._inner = inner
        self._head = ""  # the reply's opening, until its first chunk is cut
        self._cut = False
        self._segment = utils.shortuuid()
        self._forward = asyncio.ensure_future(self._relay())

    async def _relay(self) -> None:
        async for data in self._inner:
            self._event_ch.send_nowait(data)
        self._event_ch.close()

    def _emit_head(self, text: str) -> None:
        if text.strip():
            self._event_ch.send_nowait(TokenData(segment_id=self._segment, token=text.strip()))

    def push_text(self, text: str) -> None:
        self._check_not_closed()
        if self._cut:
            self._inner.push_text(text)
            return
        self._head += text
        cut = first_cut(self._head)
        if cut is not None:
            self._cut = True
            self._emit_head(self._head[:cut])
            rest, self._head = self._head[cut:].lstrip(), ""
            if rest:
                self._inner.push_text(rest)

    def _close_head(self) -> None:
        """Send what the head holds; later text, in any segment, goes to the inner stream
        (so nothing can overtake what the inner stream still holds)."""
        if not self._cut:
            self._emit_head(self._head)
            self._head, self._cut = "", True

    def flush(self) -> None:
        self._close_head()
        self._inner.flush()

    def end_input(self) -> None:
        self._close_head()
        self._inner.end_input()

    async def aclose(self) -> None:
        await self._inner.aclose()
        await utils.aio.cancel_and_wait(self._forward)
        self._event_ch.close()
