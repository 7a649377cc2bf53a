"""Plugin loading: entry points, isolation of broken plugins, lookup with suggestions.

Built-in parts are registered through avatarkit's own ``avatarkit`` entry points, exactly
like third-party plugins. Environment variables (pytest-style):

- ``AVATARKIT_STRICT_PLUGINS=1``: a plugin that fails to import or register is fatal.
- ``AVATARKIT_LOAD_PLUGINS=a,b``: load only these third-party distributions (empty: none).
  Avatarkit's own built-in parts always load.
- ``AVATARKIT_DISABLE_PLUGINS=a,b`` (or ``--no-plugin NAME``): block distributions or
  entry points by name. The audio-only face ``none`` (the last resort of every face chain)
  cannot be blocked.

A third-party part named like a built-in one (``none``, ``local``...) never replaces it:
the built-in wins and the clash is listed as a problem of that plugin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from . import hookspecs
from .brain import Brain
from .catalog import PROVIDER_FACES, install_line
from .errors import (
    DuplicatePartError,
    PluginLoadError,
    UnknownPartError,
    clip,
    describe,
    did_you_mean,
)
from .face import Face
from .part import Part
from .speech import KINDS, LLMProvider, STTProvider, TTSProvider, use_providers

BUILTIN_DIST = "avatarkit"
ENTRY_POINT_GROUP = "avatarkit"
#: Built-in entry points that are always loaded: every face chain ends with ``none``.
ESSENTIAL_ENTRY_POINTS = frozenset({"none"})

P = TypeVar("P", bound=Part)


@dataclass(frozen=True)
class PartInfo:
    """A registered part and where it came from."""

    cls: type[Part]
    distribution: str
    version: str
    entry_point: str = ""

    @property
    def kind(self) -> str:
        return self.cls.kind

    @property
    def name(self) -> str:
        return self.cls.name


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that was skipped, and why."""

    distribution: str
    entry_point: str
    error: str

    def text(self, verb: str = "skipped") -> str:
        """One line: what happened to which plugin, why, and how to disable it."""
        block = self.entry_point if self.distribution == BUILTIN_DIST else self.distribution
        return (
            f"{verb} plugin '{self.entry_point}' from {self.distribution}: "
            f"{self.error} (disable it with --no-plugin {block} or "
            f"AVATARKIT_DISABLE_PLUGINS={block})"
        )

    def message(self) -> str:
        """:meth:`text` as a warning line of its own (``avatarkit: ...``)."""
        return f"avatarkit: {self.text()}"


@dataclass
class Registry:
    """All brains, faces and speech providers (STT, LLM, TTS) known to this process."""

    brains: dict[str, PartInfo] = field(default_factory=dict)
    faces: dict[str, PartInfo] = field(default_factory=dict)
    stt: dict[str, PartInfo] = field(default_factory=dict)
    llm: dict[str, PartInfo] = field(default_factory=dict)
    tts: dict[str, PartInfo] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    duplicates: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    strict: bool = False
    manager: pluggy.PluginManager = field(
        default_factory=lambda: _new_manager(), repr=False
    )

    # -- loading ---------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        blocked: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
    ) -> Registry:
        """Load every ``avatarkit`` entry point allowed by the environment."""
        environ = os.environ if environ is None else environ
        reg = cls(strict=environ.get("AVATARKIT_STRICT_PLUGINS", "") not in ("", "0"))
        blocked_names = {b.strip() for b in blocked if b.strip()}
        blocked_names |= _split(environ.get("AVATARKIT_DISABLE_PLUGINS", ""))
        only = environ.get("AVATARKIT_LOAD_PLUGINS")
        allowed = None if only is None else _split(only)
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else "unknown"
            if dist in blocked_names or ep.name in blocked_names:
                if dist != BUILTIN_DIST or ep.name not in ESSENTIAL_ENTRY_POINTS:
                    continue
                if ep.name in blocked_names:
                    (warn or _stderr)(
                        f"avatarkit: the audio-only face '{ep.name}' is built in and always "
                        "loaded (every face chain ends with it); ignoring "
                        f"--no-plugin {ep.name}")
            if dist != BUILTIN_DIST and allowed is not None and dist not in allowed:
                continue
            version = ep.dist.version if ep.dist is not None else "?"
            try:
                module = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin must never break the CLI
                if isinstance(exc, KeyboardInterrupt):
                    raise
                reg._problem(dist, ep.name, f"import failed: {describe(exc)}", warn)
                continue
            reg.add_plugin(module, distribution=dist, version=version, entry_point=ep.name,
                           warn=warn)
        reg.activate_speech()
        return reg

    def activate_speech(self) -> None:
        """Make this registry's STT/LLM/TTS providers the ones pipeline brains of this
        process resolve by name (:func:`avatarkit.speech.use_providers`)."""
        use_providers(_SpeechTables(self))

    def add_plugin(
        self,
        plugin: ModuleType | object,
        *,
        distribution: str,
        version: str = "?",
        entry_point: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """Register one plugin object (a module with hookimpls) and collect its parts."""
        ep_name = entry_point or str(getattr(plugin, "__name__", repr(plugin)))
        plugin_name = f"{distribution}:{ep_name}"
        try:
            self.manager.register(plugin, name=plugin_name)
        except Exception as exc:  # noqa: BLE001
            self._problem(distribution, ep_name, f"registration failed: {describe(exc)}", warn)
            return
        collected: list[PartInfo] = []
        for hook, base in _HOOKS:
            for impl in getattr(self.manager.hook, hook).get_hookimpls():
                if impl.plugin_name != plugin_name:
                    continue

                def register(part: type[Any], _base: type[Part] = base) -> None:
                    collected.append(_check_part(part, _base, distribution, version, ep_name))

                try:
                    impl.function(register=register)
                except Exception as exc:  # noqa: BLE001
                    self.manager.unregister(name=plugin_name)
                    self._problem(distribution, ep_name,
                                  f"{hook} failed: {describe(exc)}", warn)
                    return
        for info in collected:
            self._add(info, warn)

    def table(self, kind: str) -> dict[str, PartInfo]:
        """The parts of ``kind`` (brain, face, stt, llm, tts) by name."""
        tables = {"brain": self.brains, "face": self.faces, "stt": self.stt, "llm": self.llm,
                  "tts": self.tts}
        return tables[kind]

    def _add(self, info: PartInfo, warn: Callable[[str], None] | None) -> None:
        table = self.table(info.kind)
        existing = table.get(info.name)
        if existing is None:
            table[info.name] = info
            return
        new_builtin = info.distribution == BUILTIN_DIST
        if (existing.distribution == BUILTIN_DIST) != new_builtin:
            # a plugin never replaces a built-in part: the built-in wins, the clash is listed
            plugin = existing if new_builtin else info
            table[info.name] = info if new_builtin else existing
            if self.strict:
                raise DuplicatePartError(
                    f"{info.kind} '{info.name}' from {plugin.distribution} clashes with "
                    f"avatarkit's built-in {info.kind} of that name",
                    hint=f"rename it in the plugin, or block it with --no-plugin "
                    f"{plugin.distribution}")
            self._problem(plugin.distribution, plugin.entry_point,
                          f"its {info.kind} '{info.name}' clashes with avatarkit's built-in "
                          f"{info.kind} of that name; the built-in one is used (rename the "
                          f"plugin's {info.kind})", warn)
            return
        dists = self.duplicates.setdefault((info.kind, info.name), [existing.distribution])
        dists.append(info.distribution)
        if self.strict:
            raise self._duplicate_error(info.kind, info.name)

    def _problem(self, dist: str, ep: str, error: str,
                 warn: Callable[[str], None] | None) -> None:
        problem = PluginProblem(dist, ep, error)
        if self.strict:
            raise PluginLoadError(problem.text("failed to load"),
                                  hint="unset AVATARKIT_STRICT_PLUGINS to skip broken plugins")
        self.problems.append(problem)
        (warn or _stderr)(problem.message())

    def _duplicate_error(self, kind: str, name: str) -> DuplicatePartError:
        dists = self.duplicates[(kind, name)]
        return DuplicatePartError(
            f"{kind} '{name}' is registered by more than one distribution: "
            + " and ".join(dists),
            hint=f"uninstall one of them or block it with --no-plugin {dists[-1]}",
        )

    # -- lookup ----------------------------------------------------------------------
    def brain(self, name: str) -> type[Brain]:
        """The brain class registered as ``name``; a did-you-mean error otherwise."""
        return self._lookup("brain", self.brains, name)  # type: ignore[return-value]

    def face(self, name: str) -> type[Face]:
        """The face class registered as ``name``; a did-you-mean error otherwise."""
        return self._lookup("face", self.faces, name)  # type: ignore[return-value]

    def provider(self, kind: str, name: str) -> type[Part]:
        """The speech provider of ``kind`` (stt, llm, tts) registered as ``name``."""
        return self._lookup(kind, self.table(kind), name)

    def info(self, kind: str, name: str) -> PartInfo:
        table = self.table(kind)
        self._lookup(kind, table, name)
        return table[name]

    def _lookup(self, kind: str, table: dict[str, PartInfo], name: str) -> type[Part]:
        if (kind, name) in self.duplicates:
            raise self._duplicate_error(kind, name)
        if name in table:
            return table[name].cls
        if kind == "face" and name in PROVIDER_FACES:
            raise UnknownPartError(
                f"face '{name}' is not installed: {install_line(name)}",
                hint="`avatarkit plugins --available` lists every provider face to install")
        known = sorted(table)
        suggestion = did_you_mean(name, known)
        raise UnknownPartError(
            f"unknown {kind} {clip(name)}. {suggestion}"
            f"Available {kind}s: {', '.join(known) or 'none'}",
            hint=f"`avatarkit plugins` lists every {kind} with where it comes from",
        )

    def problem_lines(self) -> list[str]:
        """Every problem (skipped plugin, name clash, duplicate name), one line each."""
        lines = [p.text() for p in self.problems]
        for (kind, name), dists in sorted(self.duplicates.items()):
            lines.append(f"{kind} '{name}' is registered by more than one distribution: "
                         f"{' and '.join(dists)}; using it is an error until one is removed "
                         f"(--no-plugin {dists[-1]})")
        return lines

    def all_parts(self) -> list[PartInfo]:
        """Every registered part: brains, faces, then STT, LLM and TTS providers, each
        kind sorted by name."""
        return [table[n] for table in (self.brains, self.faces, self.stt, self.llm, self.tts)
                for n in sorted(table)]


_HOOKS: tuple[tuple[str, type[Part]], ...] = (
    ("register_brains", Brain), ("register_faces", Face), ("register_stt", STTProvider),
    ("register_llm", LLMProvider), ("register_tts", TTSProvider))


class _SpeechTables(Mapping[str, Mapping[str, Any]]):
    """A live view of a registry's providers: kind -> name -> class, or for a name that two
    distributions register, the error naming both (raised when the name is used)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __getitem__(self, kind: str) -> Mapping[str, Any]:
        reg = self._registry
        return {name: reg._duplicate_error(kind, name) if (kind, name) in reg.duplicates
                else info.cls for name, info in reg.table(kind).items()}

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("avatarkit")
    pm.add_hookspecs(hookspecs)
    return pm


def _entry_points() -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    # Built-ins first so they win name clashes deterministically; then by distribution.
    return sorted(eps, key=lambda ep: (
        (ep.dist.name if ep.dist else "") != BUILTIN_DIST,
        ep.dist.name if ep.dist else "", ep.name,
    ))


def _check_part(part: type[Any], base: type[Part], dist: str, version: str,
                entry_point: str) -> PartInfo:
    if not (isinstance(part, type) and issubclass(part, base)):
        raise TypeError(f"{part!r} is not a subclass of avatarkit.{base.__name__}")
    if not getattr(part, "name", None):
        raise TypeError(f"{part.__name__} has no 'name'")
    return PartInfo(part, dist, version, entry_point)


def _split(value: str) -> set[str]:
    return {v.strip() for v in value.split(",") if v.strip()}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
