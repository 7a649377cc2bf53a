"""Where the configuration comes from: CLI flags, the environment, ``avatarkit.toml``.

Each source is a pydantic-settings source; :func:`avatarkit.config.load_config` hands them
to pydantic-settings, which merges them (a source earlier in the list wins, tables are
merged key by key) before :class:`~avatarkit.config.AvatarkitConfig` validates the result.
What is genuinely avatarkit's stays here: which variable sets which setting, the
``--brain-opt``/``--face-opt`` syntax, and messages that name the file and the fix.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, TomlConfigSettingsSource

from .errors import ConfigError, clip

DEFAULT_CONFIG_FILE = "avatarkit.toml"


class EnvironmentVariables(BaseModel):
    """Every environment variable avatarkit reads. A field is named ``SECTION_KEY`` after
    the setting it sets (``face_join_timeout`` is ``[face] join_timeout``); its alias is
    the variable. Empty variables count as unset; values are checked by the configuration
    itself, so a bad one is reported under the setting's name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    agent_instructions: str | None = Field(None, alias="AVATARKIT_INSTRUCTIONS")
    agent_greeting: str | None = Field(None, alias="AVATARKIT_GREETING")
    brain_name: str | None = Field(None, alias="AVATARKIT_BRAIN")
    face_name: str | None = Field(None, alias="AVATARKIT_FACE")
    face_fallback: list[str] | None = Field(None, alias="AVATARKIT_FALLBACK")
    face_join_timeout: str | None = Field(None, alias="AVATARKIT_JOIN_TIMEOUT")
    livekit_url: str | None = Field(None, alias="LIVEKIT_URL")
    livekit_api_key: str | None = Field(None, alias="LIVEKIT_API_KEY")
    livekit_api_secret: str | None = Field(None, alias="LIVEKIT_API_SECRET")
    worker_agent_name: str | None = Field(None, alias="AVATARKIT_AGENT_NAME")
    worker_load_threshold: str | None = Field(None, alias="AVATARKIT_LOAD_THRESHOLD")
    worker_max_sessions: str | None = Field(None, alias="AVATARKIT_MAX_SESSIONS")
    worker_measure_cpu: str | None = Field(None, alias="AVATARKIT_MEASURE_CPU")
    worker_port: str | None = Field(None, alias="AVATARKIT_WORKER_PORT")
    worker_control_port: str | None = Field(None, alias="AVATARKIT_CONTROL_PORT")
    worker_control_host: str | None = Field(None, alias="AVATARKIT_CONTROL_HOST")
    worker_control_token: str | None = Field(None, alias="AVATARKIT_CONTROL_TOKEN")

    @field_validator("face_fallback", mode="before")
    @classmethod
    def _chain(cls, value: Any) -> Any:
        return split_names(value) if isinstance(value, str) else value

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> EnvironmentVariables:
        """The variables set (and not empty) in ``environ``."""
        aliases = {field.alias for field in cls.model_fields.values()}
        return cls.model_validate({k: v for k, v in environ.items() if k in aliases and v})

    def settings(self) -> dict[str, dict[str, Any]]:
        """The settings these variables set, as nested tables (like the TOML file's)."""
        tables: dict[str, dict[str, Any]] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            section, _, key = name.partition("_")
            tables.setdefault(section, {})[key] = value
        return tables


class ConfigFile(TomlConfigSettingsSource):
    """``avatarkit.toml`` (pydantic-settings' TOML source), with messages that name the
    file, the line and the fix; a file that is missing or a directory is an error too."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        if path.is_dir():
            raise ConfigError(f"config path is a directory, not a file: {path}",
                              hint="give the path of an avatarkit.toml file")
        if not path.exists():
            raise ConfigError(f"config file not found: {path}",
                              hint="check the --config path or AVATARKIT_CONFIG")
        self.path = path
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            return super()._read_file(file_path)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{file_path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
                              hint="TOML files must be UTF-8; save it as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"malformed TOML in {file_path}: {exc}",
                              hint="fix the file; see docs/configuration.md for the format"
                              ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file_path}: {exc.strerror or exc}",
                              hint="check the path and its permissions") from None


def config_path(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """The TOML file to read: ``--config``, else ``AVATARKIT_CONFIG``, else
    ``./avatarkit.toml`` if there is one."""
    if path is not None:
        return Path(path)
    if environ.get("AVATARKIT_CONFIG"):
        return Path(environ["AVATARKIT_CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


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


def split_names(value: str) -> list[str]:
    """``"heygen -> local"`` / ``"heygen,local"`` -> ``["heygen", "local"]``."""
    return [v.strip() for v in value.replace("->", ",").split(",") if v.strip()]


def flag_settings(
    *,
    brain: str | None,
    face: str | None,
    fallback: Iterable[str] | None,
    brain_opts: Iterable[str],
    face_opts: Iterable[str],
    brain_name: str,
    face_name: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The settings the CLI flags set, as nested tables, and for each face named by a
    ``--face-opt FACE.KEY=...`` that flag (the face must be in the chain).

    ``brain_name``/``face_name`` are the selected parts (from every source): plain
    ``--brain-opt``/``--face-opt`` options are theirs.
    """
    tables: dict[str, dict[str, Any]] = {"brain": {}, "face": {}}
    if brain is not None:
        tables["brain"]["name"] = brain
    if face is not None:
        tables["face"]["name"] = face
    if fallback is not None:
        tables["face"]["fallback"] = [name for item in fallback for name in split_names(item)]
    for key, value in (parse_opt(o, "--brain-opt") for o in brain_opts):
        options = tables["brain"].setdefault("options", {}).setdefault(brain_name, {})
        head, _, sub = key.partition(".")  # TABLE.KEY: a nested option (tts_options.voice_id)
        if sub and isinstance(options.setdefault(head, {}), dict):
            options[head][sub] = value
        else:
            options[key] = value
    targets: dict[str, str] = {}
    for key, value in (parse_opt(o, "--face-opt") for o in face_opts):
        target, _, sub = key.partition(".")
        if sub:
            targets.setdefault(target, f"--face-opt {key}=...")
        else:
            target, sub = face_name, key
        tables["face"].setdefault("options", {}).setdefault(target, {})[sub] = value
    return {k: v for k, v in tables.items() if v}, targets


def layer(settings_cls: type[BaseSettings], tables: Mapping[str, Any]) -> InitSettingsSource:
    """``tables`` as a pydantic-settings source."""
    return InitSettingsSource(settings_cls, dict(tables))


def first_set(*candidates: Any) -> Any:
    """The first candidate that is not ``None`` (sources in precedence order)."""
    return next(c for c in candidates if c is not None)


def table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``data[name]`` if it is a table, else an empty one."""
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}
