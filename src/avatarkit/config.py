"""Configuration: one pydantic model merged from defaults, TOML, environment and CLI flags.

Precedence, highest first: CLI flags, ``AVATARKIT_*`` / ``LIVEKIT_*`` environment variables,
``avatarkit.toml`` (or ``--config PATH`` / ``AVATARKIT_CONFIG``), defaults.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import ConfigError, clip
from .part import format_validation_error
from .redact import check_url, is_secret_name, mask_userinfo, redact_url

DEFAULT_CONFIG_FILE = "avatarkit.toml"
DEFAULT_INSTRUCTIONS = (
    "You are a friendly, helpful avatar. Keep answers short: one or two spoken sentences, "
    "no lists, no markdown."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


MASK = "**********"


def _check_name(value: str) -> str:
    """A part name: not empty, no spaces or control characters."""
    name = value.strip()
    if not name:
        raise ValueError("must not be empty (see `avatarkit plugins` for the names)")
    if not name.isprintable() or any(c.isspace() for c in name):
        raise ValueError("must be a part name without spaces or control characters")
    return name


def _secret_options(options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Wrap every option whose name says it is a credential in a ``SecretStr``, so a
    dump, a ``repr`` or a log line of the configuration never shows it."""
    return {part: {key: SecretStr(value) if isinstance(value, str) and is_secret_name(key)
                   else value for key, value in opts.items()}
            for part, opts in options.items()}


class AgentSettings(_Strict):
    """What the agent says and how it behaves."""

    instructions: str = DEFAULT_INSTRUCTIONS
    greeting: str | None = Field(
        default=None, description="Said when the session starts; None = wait for the user."
    )


class BrainSettings(_Strict):
    """Which brain to run, and options per brain name (``[brain.options.<name>]``)."""

    name: str = "local"
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("options")
    @classmethod
    def _mask_options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _secret_options(value)

    def selected_options(self) -> dict[str, Any]:
        return dict(self.options.get(self.name, {}))


class FaceSettings(_Strict):
    """Which face to show, the fallback chain, and options per face name."""

    name: str = "local"
    fallback: list[str] = Field(default_factory=list)
    join_timeout: float = Field(default=20.0, gt=0, description="Seconds per face to attach.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("options")
    @classmethod
    def _mask_options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _secret_options(value)

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, value: list[str]) -> list[str]:
        return [_check_name(name) for name in value]

    def chain(self) -> list[str]:
        """The faces to try in order, ending with audio-only ``none``, without repeats."""
        names: list[str] = []
        for name in [self.name, *self.fallback, "none"]:
            if name not in names:
                names.append(name)
        return names

    def options_for(self, name: str) -> dict[str, Any]:
        return dict(self.options.get(name, {}))


class LiveKitSettings(_Strict):
    """Where the LiveKit server is. Read from ``LIVEKIT_URL``/``_API_KEY``/``_API_SECRET``."""

    url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            check_url(value, ("wss", "ws", "https", "http"))
        except ValueError as exc:
            raise ValueError(f"{exc}; e.g. ws://localhost:7880 or wss://<project>.livekit.cloud "
                             "(set by LIVEKIT_URL or [livekit] url)") from None
        if redact_url(value) != value:
            raise ValueError("must not contain a user name or password (LiveKit "
                             "authenticates with LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
        return value

    def missing(self) -> list[str]:
        """The ``LIVEKIT_*`` variables still needed to reach a server."""
        pairs = (("LIVEKIT_URL", self.url), ("LIVEKIT_API_KEY", self.api_key),
                 ("LIVEKIT_API_SECRET", self.api_secret))
        return [env for env, value in pairs if not value]


class WorkerSettings(_Strict):
    """LiveKit worker (``AgentServer``) settings."""

    agent_name: str = Field(default="", description="Explicit dispatch name; '' = automatic.")
    load_threshold: float = Field(default=0.75, gt=0, le=1.0)
    max_sessions: int | None = Field(default=None, ge=1, description="Hard cap per worker.")
    measure_cpu: bool = Field(
        default=True, description="Count the host's measured CPU in the load; off = only "
        "the declared session cost and max_sessions (hosts shared with other work).")
    port: int = Field(default=8081, ge=0, le=65535,
                      description="Health/metrics HTTP port (0 = any free port).")


class AvatarkitConfig(_Strict):
    """The whole merged configuration."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    brain: BrainSettings = Field(default_factory=BrainSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    livekit: LiveKitSettings = Field(default_factory=LiveKitSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    def masked(
        self, secret_fields: Mapping[tuple[str, str], Collection[str]] | None = None
    ) -> dict[str, Any]:
        """A JSON-safe dict with every secret shown as ``'**********'`` (or null), and the
        ``user:password@`` of any URL option as ``**********@``.

        Secret are the ``SecretStr`` settings, every option whose name says it is a
        credential (:func:`~avatarkit.redact.is_secret_name`) and the option names given
        per ``(kind, part name)`` in ``secret_fields`` (a part's ``SecretStr`` fields).
        """
        data: dict[str, Any] = json.loads(self.model_dump_json())
        secret_fields = secret_fields or {}
        for kind in ("brain", "face"):
            for part, options in data[kind]["options"].items():
                declared = secret_fields.get((kind, part), ())
                for key, value in options.items():
                    if value is not None and (key in declared or is_secret_name(key)):
                        options[key] = MASK
                    elif isinstance(value, str):
                        options[key] = mask_userinfo(value)
        return data


_ENV_MAP: dict[str, tuple[str, ...]] = {
    "AVATARKIT_BRAIN": ("brain", "name"),
    "AVATARKIT_FACE": ("face", "name"),
    "AVATARKIT_FALLBACK": ("face", "fallback"),
    "AVATARKIT_JOIN_TIMEOUT": ("face", "join_timeout"),
    "AVATARKIT_INSTRUCTIONS": ("agent", "instructions"),
    "AVATARKIT_GREETING": ("agent", "greeting"),
    "AVATARKIT_AGENT_NAME": ("worker", "agent_name"),
    "AVATARKIT_LOAD_THRESHOLD": ("worker", "load_threshold"),
    "AVATARKIT_MAX_SESSIONS": ("worker", "max_sessions"),
    "AVATARKIT_MEASURE_CPU": ("worker", "measure_cpu"),
    "AVATARKIT_WORKER_PORT": ("worker", "port"),
    "LIVEKIT_URL": ("livekit", "url"),
    "LIVEKIT_API_KEY": ("livekit", "api_key"),
    "LIVEKIT_API_SECRET": ("livekit", "api_secret"),
}


def load_config(
    *,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    brain: str | None = None,
    face: str | None = None,
    fallback: Iterable[str] | None = None,
    brain_opts: Iterable[str] = (),
    face_opts: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> AvatarkitConfig:
    """Merge every source into a validated :class:`AvatarkitConfig`.

    ``brain_opts``/``face_opts`` are ``KEY=VALUE`` strings for the selected brain/face (a
    value is parsed as JSON when it can be, so ``temperature=0.6`` is a number);
    ``NAME.KEY=VALUE`` targets another face of the chain. ``overrides`` is a nested dict
    applied last (for programmatic use).
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    file = _config_path(path, environ)
    if file is not None:
        _merge(data, read_toml(file))
    for var, where in _ENV_MAP.items():
        value = environ.get(var)
        if value is None or value == "":
            continue
        if where == ("face", "fallback"):
            _set(data, where, _split_list(value))
        else:
            _set(data, where, value)
    if brain is not None:
        _set(data, ("brain", "name"), brain)
    if face is not None:
        _set(data, ("face", "name"), face)
    if fallback is not None:
        names: list[str] = []
        for item in fallback:
            names.extend(_split_list(item))
        _set(data, ("face", "fallback"), names)
    brain_name = data.get("brain", {}).get("name", BrainSettings().name)
    face_name = data.get("face", {}).get("name", FaceSettings().name)
    for key, value in (parse_opt(o, "--brain-opt") for o in brain_opts):
        _set(data, ("brain", "options", brain_name, key), value)
    targets: dict[str, str] = {}  # face named by a --face-opt FACE.KEY -> that flag
    for key, value in (parse_opt(o, "--face-opt") for o in face_opts):
        target, _, sub = key.partition(".")
        if sub:
            _set(data, ("face", "options", target, sub), value)
            targets.setdefault(target, f"--face-opt {key}=...")
        else:
            _set(data, ("face", "options", face_name, key), value)
    if overrides:
        _merge(data, dict(overrides))
    try:
        config = AvatarkitConfig.model_validate(data)
    except ValidationError as exc:
        source = f" (file: {file})" if file else ""
        raise ConfigError(
            f"invalid configuration{source}:\n{format_validation_error(exc)}",
            hint="`avatarkit config show` prints the merged configuration",
        ) from None
    chain = config.face.chain()
    for target, flag in targets.items():
        if target not in chain:
            raise ConfigError(
                f"{flag} sets an option of face {clip(target)}, which is not in the face "
                f"chain ({' -> '.join(chain)})",
                hint=f"add it with --fallback {target}, or fix the face name before the dot",
            )
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a :class:`ConfigError` naming the file and line otherwise."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    fix = "fix the file; see docs/configuration.md for the format"
    if path.is_dir():
        raise ConfigError(f"config path is a directory, not a file: {path}",
                          hint="give the path of an avatarkit.toml file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}",
                          hint="check the --config path or AVATARKIT_CONFIG") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
                          hint="TOML files must be UTF-8; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {path}: {exc}", hint=fix) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}",
                          hint="check the path and its permissions") from None


def parse_opt(text: str, flag: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value), the value parsed as JSON when possible."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{flag} expects KEY=VALUE, got {clip(text)}",
                          hint=f"for example {flag} temperature=0.6")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def _config_path(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    if path is not None:
        return Path(path)
    if environ.get("AVATARKIT_CONFIG"):
        return Path(environ["AVATARKIT_CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _split_list(value: str) -> list[str]:
    return [v.strip() for v in value.replace("->", ",").split(",") if v.strip()]


def _set(data: dict[str, Any], where: tuple[str, ...], value: Any) -> None:
    node = data
    for key in where[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[where[-1]] = value


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
