"""Configuration: one pydantic model merged from defaults, TOML, environment and CLI flags.

Precedence, highest first: CLI flags, ``AVATARKIT_*`` / ``LIVEKIT_*`` environment variables,
``avatarkit.toml`` (or ``--config PATH`` / ``AVATARKIT_CONFIG``), defaults. The sources are
pydantic-settings sources (:mod:`avatarkit.config_sources`); pydantic-settings merges them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .config_sources import (
    DEFAULT_CONFIG_FILE,
    ConfigFile,
    EnvironmentVariables,
    config_path,
    first_set,
    flag_settings,
    layer,
    parse_opt,
    table,
)
from .errors import ConfigError, clip
from .part import format_validation_error
from .redact import check_url, is_loopback, is_secret_name, mask_userinfo, redact_url

__all__ = ["DEFAULT_CONFIG_FILE", "DEFAULT_INSTRUCTIONS", "AgentSettings", "AvatarkitConfig",
           "BrainSettings", "FaceSettings", "LiveKitSettings", "WorkerSettings", "load_config",
           "parse_opt"]
# the sources of the load_config call running in this context (highest precedence first)
_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar(
    "avatarkit_config_sources", default=())
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
    return {part: _secret_values(opts) for part, opts in options.items()}


def _secret_values(opts: Mapping[str, Any]) -> dict[str, Any]:
    """``opts`` with credential-named values as ``SecretStr``, nested tables included (a
    pipeline's ``tts_options = {api_key = ...}``)."""
    return {key: SecretStr(value) if isinstance(value, str) and is_secret_name(key)
            else _secret_values(value) if isinstance(value, Mapping) else value
            for key, value in opts.items()}


def _mask_nested(options: dict[str, Any], declared: Collection[str] = ()) -> None:
    """Mask, in place, credential-named values (and ``declared`` ones) and URL userinfo."""
    for key, value in options.items():
        if isinstance(value, dict):
            _mask_nested(value)
        elif value is not None and (key in declared or is_secret_name(key)):
            options[key] = MASK
        elif isinstance(value, str):
            options[key] = mask_userinfo(value)


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
    measure_cpu: bool | None = Field(
        default=None, description="Count the host's measured CPU in the load; off = only "
        "the declared session cost and max_sessions (hosts shared with other work); "
        "unset = on, but off with `run --dev` (a busy laptop still gets jobs).")
    port: int = Field(default=8081, ge=0, le=65535,
                      description="Health/metrics HTTP port (0 = any free port).")
    control_port: int | None = Field(
        default=None, ge=0, le=65535, description="Serve the per-session control API "
        "(GET /avatars...) on this port (0 = any free port); unset = off.")
    control_host: str = Field(default="127.0.0.1", description="Interface of the control "
                              "API; another than loopback needs control_token.")
    control_token: SecretStr | None = Field(
        default=None, description="Bearer token of the control API (else generated, logged).")

    @model_validator(mode="after")
    def _control_needs_token(self) -> WorkerSettings:
        if self.control_port is not None and self.control_token is None \
                and not is_loopback(self.control_host):
            raise ValueError(
                f"control_host={self.control_host!r} is not loopback: the control API "
                "needs control_token there (AVATARKIT_CONTROL_TOKEN), or keep 127.0.0.1")
        return self


class AvatarkitConfig(BaseSettings):
    """The whole merged configuration (see :func:`load_config`).

    Built directly (``AvatarkitConfig(brain={"name": "pipeline"})``) it reads neither the
    environment nor a file: only :func:`load_config` adds those sources.
    """

    model_config = SettingsConfigDict(extra="forbid")

    agent: AgentSettings = Field(default_factory=AgentSettings)
    brain: BrainSettings = Field(default_factory=BrainSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    livekit: LiveKitSettings = Field(default_factory=LiveKitSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments first, then the sources :func:`load_config` is merging."""
        return (init_settings, *_SOURCES.get())

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
                _mask_nested(options, secret_fields.get((kind, part), ()))
        return data


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
    file = config_path(path, environ)
    toml = ConfigFile(AvatarkitConfig, file) if file is not None else None
    toml_data = toml.toml_data if toml is not None else {}
    env = EnvironmentVariables.read(environ).settings()
    flags, targets = flag_settings(
        brain=brain, face=face, fallback=fallback, brain_opts=brain_opts, face_opts=face_opts,
        brain_name=first_set(brain, env.get("brain", {}).get("name"),
                             table(toml_data, "brain").get("name"), BrainSettings().name),
        face_name=first_set(face, env.get("face", {}).get("name"),
                            table(toml_data, "face").get("name"), FaceSettings().name))
    sources = [layer(AvatarkitConfig, flags), layer(AvatarkitConfig, env)]
    if toml is not None:
        sources.append(toml)
    token = _SOURCES.set(tuple(sources))
    try:
        config = AvatarkitConfig(**dict(overrides or {}))
    except ValidationError as exc:
        source = f" (file: {file})" if file else ""
        raise ConfigError(
            f"invalid configuration{source}:\n{format_validation_error(exc)}",
            hint="`avatarkit config show` prints the merged configuration",
        ) from None
    finally:
        _SOURCES.reset(token)
    chain = config.face.chain()
    for target, flag in targets.items():
        if target not in chain:
            raise ConfigError(
                f"{flag} sets an option of face {clip(target)}, which is not in the face "
                f"chain ({' -> '.join(chain)})",
                hint=f"add it with --fallback {target}, or fix the face name before the dot",
            )
    return config
