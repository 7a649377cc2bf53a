"""Speech providers: the STT, LLM and TTS a pipeline brain composes by name.

A provider is a small class (like a brain or a face): ``name``, ``summary``, a nested
pydantic ``Options`` model (unknown keys refused), ``env`` (the variables holding its
credentials), ``modules`` (what ``avatarkit doctor`` checks) and :meth:`SpeechProvider.create`,
the factory that imports its LiveKit plugin lazily and returns a fresh component. Plugins
register them with the ``register_stt`` / ``register_llm`` / ``register_tts`` hooks.

The registry publishes the providers it loaded with :func:`use_providers`; until one is
loaded, :func:`providers` holds avatarkit's own (built-in entry points only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from .errors import (
    ConfigError,
    PartUnavailableError,
    UnknownPartError,
    clip,
    did_you_mean,
)
from .part import Part, format_validation_error, require_env

KINDS = ("stt", "llm", "tts")
#: What each kind is called in messages.
KIND_WORDS = {"stt": "speech-to-text", "llm": "LLM", "tts": "text-to-speech"}

#: kind -> name -> provider class (or the error using that name raises)
_active: Mapping[str, Mapping[str, Any]] | None = None


class SpeechProvider(Part):
    """Base of every speech provider; subclass :class:`STTProvider`, :class:`LLMProvider`
    or :class:`TTSProvider`."""

    kind: ClassVar[str] = "speech"
    #: Python modules the provider needs at run time (``avatarkit doctor`` checks them).
    modules: ClassVar[tuple[str, ...]] = ()
    #: How to install them (shown when one is missing).
    install: ClassVar[str] = ""

    @classmethod
    def parse_options(cls, raw: BaseModel | Mapping[str, Any] | None) -> Any:
        """Validate ``raw`` into ``cls.Options``; a :class:`ConfigError` naming the
        provider and its options otherwise."""
        if isinstance(raw, cls.Options):
            return raw
        try:
            return cls.Options.model_validate(dict(raw or {}))
        except ValidationError as exc:
            names = ", ".join(cls.Options.model_fields) or "none"
            raise ConfigError(
                f"invalid options for {cls.kind} '{cls.name}':\n{format_validation_error(exc)}",
                hint=f"the options of {cls.kind} '{cls.name}' are: {names} (set them with "
                f"--brain-opt {cls.kind}_options.KEY=VALUE or [brain.options.pipeline."
                f"{cls.kind}_options] in avatarkit.toml)",
            ) from None

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        """``env``, unless the options carry the key themselves (``api_key``)."""
        if getattr(options, "api_key", None) is not None:
            return ()
        return cls.env

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """``modules`` (and ``requires``): what ``avatarkit doctor`` checks."""
        return (*cls.modules, *(m for m in cls.requires if m not in cls.modules))

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Raise before any network call if the provider cannot run with ``options``."""
        require_env(f"{cls.kind} '{cls.name}'", cls.required_env(options), environ,
                    f"or set --brain-opt {cls.kind}_options.api_key=...")
        if cls.unavailable:
            raise PartUnavailableError(f"{cls.kind} '{cls.name}' is unavailable: {cls.unavailable}")
        from importlib.util import find_spec

        for module in cls.required_modules(options):
            try:
                found = find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise PartUnavailableError(
                    f"{cls.kind} '{cls.name}' needs the Python module {module}, which is not "
                    "installed", hint=cls.install or f"install the package providing {module}")

    @classmethod
    def prewarm(cls, options: Any) -> None:
        """Load what the provider needs once per process (models); default: nothing."""

    @classmethod
    def prepare_worker(cls, options: Any) -> Any:
        """Start what job processes share in the worker's main process; the options they
        should use instead, or ``None`` (see :meth:`avatarkit.brain.Brain.prepare_worker`)."""
        return None

    @classmethod
    def create(cls, options: Any) -> Any:
        """A fresh LiveKit component (``stt.STT``, ``llm.LLM``, ``tts.TTS``) for one session."""
        raise NotImplementedError(f"{cls.kind} provider '{cls.name}' has no create()")


class STTProvider(SpeechProvider):
    """A speech-to-text provider (``register_stt``)."""

    kind: ClassVar[str] = "stt"


class LLMProvider(SpeechProvider):
    """A language-model provider (``register_llm``)."""

    kind: ClassVar[str] = "llm"


class TTSProvider(SpeechProvider):
    """A text-to-speech provider (``register_tts``)."""

    kind: ClassVar[str] = "tts"


BASES: dict[str, type[SpeechProvider]] = {
    "stt": STTProvider, "llm": LLMProvider, "tts": TTSProvider}


def use_providers(tables: Mapping[str, Mapping[str, Any]]) -> None:
    """Make ``tables`` (kind -> name -> provider class) the providers of this process."""
    global _active
    _active = tables


def providers(kind: str) -> Mapping[str, Any]:
    """The registered providers of ``kind`` by name."""
    global _active
    if _active is None:
        _active = _builtin_providers()
    return _active.get(kind, {})


def lookup(kind: str, name: str) -> type[SpeechProvider]:
    """The provider of ``kind`` called ``name``; an error naming the choices otherwise."""
    table = providers(kind)
    found = table.get(name)
    if isinstance(found, BaseException):  # e.g. two distributions register this name
        raise found
    if found is not None:
        return found
    known = sorted(table)
    suggestion = did_you_mean(name, known)
    raise UnknownPartError(
        f"unknown {kind} provider {clip(name)} ({KIND_WORDS[kind]}) for the pipeline brain. "
        f"{suggestion}Registered {kind} providers: {', '.join(known) or 'none'}",
        hint=f"`avatarkit plugins` lists every provider; pick one with --brain-opt {kind}=NAME",
    )


def _builtin_providers() -> dict[str, dict[str, type[SpeechProvider]]]:
    """Avatarkit's own providers, from its entry points (no third-party plugin loaded)."""
    from importlib import metadata

    tables: dict[str, dict[str, type[SpeechProvider]]] = {kind: {} for kind in KINDS}
    for ep in metadata.entry_points(group="avatarkit"):
        if ep.dist is None or ep.dist.name != "avatarkit" or not ep.name.startswith("speech"):
            continue
        module = ep.load()
        for kind in KINDS:
            hook = getattr(module, f"register_{kind}", None)
            if hook is not None:
                hook(register=lambda cls, _k=kind: tables[_k].setdefault(cls.name, cls))
    return tables
