"""The ``local`` brain: everything offline, on this machine.

Silero VAD -> faster-whisper (tiny.en) -> llama.cpp's ``llama-server`` with SmolLM2 (or any
OpenAI-compatible server at ``base_url``: vLLM, Ollama...) -> Piper (or espeak-ng).

This module imports only pydantic and avatarkit's light modules; the engines are imported
in :meth:`LocalBrain.prewarm` / :meth:`LocalBrain.build`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SecretStr

from ..brain import Brain, BrainParts
from ..errors import UsageError
from ..hookspecs import hookimpl
from ..part import HttpUrl, PartOptions

if TYPE_CHECKING:
    from ..engines.llama_slots import SlotPool

# Silence that ends the user's speech. Measured with Silero on espeak-ng and Piper speech
# with commas and sentence breaks: 0.20-0.25 s split utterances mid-way, 0.30 s did not;
# 0.35 s keeps a margin and ends every turn 0.2 s sooner than Silero's default 0.55 s.
DEFAULT_MIN_SILENCE = 0.35

# Share of one core a session's whisper + llama.cpp + Piper take on the worker, averaged over
# a conversation: benchmarks/room_load.py measured ~0.47 cores per local/local session on 2
# cores, ~0.35 of it the face; the bursts (2 threads each) are larger. With the local face a
# 2-core worker then reports full at its third session, where answers stopped keeping up.
MODELS_CORE_SHARE = 0.25


def _load_cost() -> float:
    return round(min(1.0, MODELS_CORE_SHARE / (os.cpu_count() or 1)), 3)


_checked_urls: set[str] = set()
_checked_lock = threading.Lock()


class LocalBrain(Brain):
    """Offline voice pipeline: Silero VAD, whisper, llama.cpp (or your server), Piper/espeak-ng.

    The llama.cpp server is process-wide (shared by every session) and stopped by
    :func:`shutdown` or at interpreter exit; models are loaded once per process.
    """

    name: ClassVar[str] = "local"
    summary: ClassVar[str] = (
        "offline: Silero VAD + whisper tiny.en + llama.cpp SmolLM2 (or your vLLM/Ollama "
        "via base_url) + Piper/espeak-ng; no API keys"
    )
    env: ClassVar[tuple[str, ...]] = ()
    load_cost: ClassVar[float] = _load_cost()  # models on the worker (base_url: still STT/TTS)

    class Options(PartOptions):
        """Options of the ``local`` brain."""


        base_url: HttpUrl | None = Field(
            None, description="OpenAI-compatible server to use instead of the bundled llama.cpp "
            "(vLLM: http://HOST:8000/v1, Ollama: http://HOST:11434/v1)")
        model: str = Field("smollm2", description="model name sent to the LLM server")
        api_key: SecretStr | None = Field(None, description="API key for base_url, if needed")
        tts: Literal["auto", "piper", "espeak"] = Field(
            "auto", description="speech engine: Piper if installed, else espeak-ng")
        voice: str | None = Field(None, description="path to a Piper .onnx voice")
        stt_language: str = Field("en", description="language of the user's speech")
        min_silence: float = Field(
            DEFAULT_MIN_SILENCE, gt=0.05, le=5.0,
            description="seconds of silence that end the user's speech (Silero VAD)")
        temperature: float | None = Field(
            None, ge=0.0, le=2.0, description="LLM sampling temperature; None = the model's "
            "recommended one (0.2 for the bundled SmolLM2), else the server's default")
        top_p: float | None = Field(
            None, gt=0.0, le=1.0, description="LLM nucleus sampling; None = the model's "
            "recommended one (0.9 for the bundled SmolLM2), else the server's default")
        fast_turns: bool = Field(
            True, description="end turns sooner: whisper starts at the first silence (not "
            "after min_silence), no end-of-turn wait beyond min_silence, TTS may start "
            "before the turn is confirmed and speaks the reply's first clause on its own; "
            "False = LiveKit's defaults")
        stt_window: float = Field(
            15.0, ge=15.0, le=30.0, description="whisper's encoder window in seconds for "
            "turns that fit in it less 5 s (longer turns use the full 30 s): 15 "
            "transcribes ~2x faster than 30 (docs/performance.md)")
        stt_beam: int = Field(
            5, ge=1, le=10, description="whisper's beam size: 5 hears fast or robotic speech "
            "far better than 1 (greedy) at ~0.04 s more per turn (docs/performance.md)")
        max_tokens: int | None = Field(
            200, ge=1, description="cap on a reply's length in tokens (small models can "
            "run on to the full context); None = no cap")
        # set by the worker (never by users): where its server's slot locks live, so that
        # its job processes pin their sessions too (pickled with the plan)
        _worker_slots: str | None = PrivateAttr(None)

    options: Options

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._owned: list[Any] = []
        self._slot: int | None = None  # this session's llama.cpp slot (see _pin_slot)

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this brain needs (``doctor`` checks them; the LiveKit plugins
        are imported on the main thread before a background prewarm)."""
        from .local_checks import MODULES

        return MODULES

    @classmethod
    def doctor_checks(cls, options: Any) -> list[Any]:
        """llama.cpp and its model (unless ``base_url``), the Piper voice, whisper's model."""
        from .local_checks import local_brain_assets

        return local_brain_assets(llama=options.base_url is None)

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Raise :class:`~avatarkit.errors.UsageError` naming what to install; no network."""
        super().check_usable(options, environ)
        from ..engines import assets
        from ..engines.tts_select import resolve_tts

        assets.whisper_model_path()
        if options.stt_language.replace("_", "-").split("-")[0].lower() not in ("en", "english"):
            raise UsageError(
                f"stt_language={options.stt_language!r}: the packaged whisper model (tiny.en) "
                "understands English only",
                hint="set stt_language='en', or use the 'pipeline' brain for other languages",
            )
        resolve_tts(options.tts, options.voice)
        if options.base_url is None:
            assets.llama_server_binary()
            assets.smollm2_gguf_path()

    def _api_key(self) -> str | None:
        key = self.options.api_key
        return key.get_secret_value() if key is not None else None

    def llm_base_url(self) -> str:
        """The LLM server's URL: ``base_url`` once checked, or the started llama.cpp server.

        Blocking and idempotent (the first call per process does the work).
        """
        base_url = self.options.base_url
        if base_url is None:
            from ..engines import llama_server

            return llama_server.ensure_started_sync()
        with _checked_lock:
            if base_url not in _checked_urls:
                from ..engines.endpoint import check_openai_endpoint

                check_openai_endpoint(base_url, api_key=self._api_key())
                _checked_urls.add(base_url)
        return base_url

    def prepare_worker(self) -> Options | None:
        """Start the llama.cpp server once for the whole worker (unless ``base_url`` is
        set); job processes get its URL as ``base_url`` and its slots' lock directory, so
        each of their sessions is pinned to a slot of its own too."""
        if self.options.base_url is not None:
            return None
        from ..engines import llama_server
        from ..engines.llama_slots import worker_slot_dir

        url = llama_server.ensure_started_sync()
        options = self.options.model_copy(update={"base_url": url})
        options._worker_slots = worker_slot_dir()
        return options

    def prewarm(self) -> None:
        """Load VAD, whisper and the Piper voice, and start (or check) the LLM server."""
        from ..engines.tts_select import resolve_tts
        from ..engines.vad import load_vad
        from ..engines.whisper_stt import load_whisper_model

        opts = self.options
        load_vad(opts.min_silence)
        load_whisper_model()
        if resolve_tts(opts.tts, opts.voice) == "piper":
            from ..engines.piper_tts import load_piper_voice

            load_piper_voice(opts.voice)
        self.llm_base_url()

    def warm_prompt(self, instructions: str) -> None:
        """One-token request with the agent's ``instructions`` as the system prompt, so the
        LLM server has them cached (llama.cpp keeps the prompt prefix) before the first
        turn. Best effort: a failure only means a slower first turn. With the bundled
        server, in the slot the first session gets; the others' slots are warmed when a
        session first takes them (:mod:`avatarkit.engines.llama_slots`); in a worker's job
        process, each slot when the process first takes it."""
        from functools import partial

        from ..engines.probes import warm_up

        warm = partial(warm_up, self.llm_base_url(), self.options.model, system=instructions,
                       api_key=self._api_key())
        slots = self._slots()
        if slots is None:
            warm()
            return
        slots.set_warmer(lambda slot: warm(slot=slot))
        if self.options.base_url is None:
            slots.warm_now(0)

    def build(self) -> BrainParts:
        """Fresh STT/LLM/TTS for one session, the shared VAD, and VAD turn detection."""
        from ..engines.tts_select import create_tts
        from ..engines.vad import load_vad
        from ..engines.whisper_stt import WhisperSTT

        opts = self.options
        llm = self.build_llm()
        vad = load_vad(opts.min_silence)
        stt = WhisperSTT(language=opts.stt_language, vad=vad if opts.fast_turns else None,
                         window=opts.stt_window, beam_size=opts.stt_beam)
        tts = create_tts(opts.tts, opts.voice)
        self._owned += [llm, stt, tts]
        if opts.fast_turns:  # the reply's first words are spoken before its first sentence ends
            from livekit.agents import tts as lk_tts

            from ..engines.first_chunk import FirstChunkTokenizer

            tts = lk_tts.StreamAdapter(tts=tts, sentence_tokenizer=FirstChunkTokenizer())
            self._owned.append(tts)
        return BrainParts(
            llm=llm,
            stt=stt,
            tts=tts,
            vad=vad,
            session_options={"turn_handling": turn_handling(
                opts.min_silence if opts.fast_turns else None)},
        )

    def build_llm(self) -> Any:
        """This session's LLM client: the model's recommended sampling unless set
        (:mod:`avatarkit.engines.sampling`), the reply cap, and its llama.cpp slot."""
        from ..engines.sampling import sampling_for
        from .openai_compat import openai_compatible_llm

        opts = self.options
        sampling = sampling_for(opts.model, opts.temperature, opts.top_p)
        return openai_compatible_llm(model=opts.model, base_url=self.llm_base_url(),
                                     api_key=self._api_key(), temperature=sampling.temperature,
                                     top_p=sampling.top_p, max_tokens=opts.max_tokens,
                                     extra_body={**sampling.extra_body(), **self._pin_slot()})

    def _slots(self) -> SlotPool | None:
        """The bundled server's slots as this process hands them out: this process's pool,
        the worker's (in a job process), or ``None`` for a server at a user's ``base_url``."""
        from ..engines.llama_slots import pool, shared_pool

        if self.options.base_url is None:
            return pool()
        shared = self.options._worker_slots
        return None if shared is None else shared_pool(shared)

    def _pin_slot(self) -> dict[str, Any]:
        """``{"id_slot": k}``: this session's own slot of the bundled llama.cpp server, so
        its conversation stays cached there (:mod:`avatarkit.engines.llama_slots`); ``{}``
        for a server at a user's ``base_url``, or when no slot is free."""
        slots = self._slots()
        if slots is not None and self._slot is None:
            self._slot = slots.acquire()
        return {} if self._slot is None else {"id_slot": self._slot}

    async def aclose(self) -> None:
        """Close this brain's per-session components (the shared server keeps running)
        and give its llama.cpp slot back."""
        owned, self._owned = self._owned, []
        slot, self._slot = self._slot, None
        slots = self._slots()
        if slot is not None and slots is not None:
            slots.release(slot)
        for part in owned:
            await part.aclose()


def turn_handling(min_silence: float | None = None) -> dict[str, Any]:
    """``AgentSession(turn_handling=...)`` for offline use.

    VAD ends the turn (the default turn-detector model waits up to ~2.5 s on synthetic
    speech); interruptions use the VAD too, never a cloud detector. With ``min_silence``
    (fast turns), the turn ends when the VAD's silence window does: LiveKit's endpointing
    would otherwise wait 0.5 s from the speech end, and the VAD has already waited
    ``min_silence``; preemptive generation also runs the TTS before the turn is confirmed.
    """
    options: dict[str, Any] = {"turn_detection": "vad", "interruption": {"mode": "vad"}}
    if min_silence is not None:
        options["endpointing"] = {"min_delay": min_silence}
        options["preemptive_generation"] = {"enabled": True, "preemptive_tts": True}
    return options


def shutdown() -> None:
    """Stop the process-wide llama.cpp server (also done at interpreter exit)."""
    from ..engines import llama_server

    llama_server.shutdown()


@hookimpl
def register_brains(register: Any) -> None:
    """Register :class:`LocalBrain` under the name ``local``."""
    register(LocalBrain)
