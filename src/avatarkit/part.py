"""What brains and faces share: class-level metadata and validated options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, MissingCredentialsError, PartUnavailableError


class PartOptions(BaseModel):
    """Base for a part's nested ``Options``: unknown keys are refused, and the validation
    schema is built on first use (so listing many plugins stays fast)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class NoOptions(PartOptions):
    """Options model of a part that takes none."""


class Part:
    """Base of :class:`~avatarkit.brain.Brain` and :class:`~avatarkit.face.Face`.

    Subclasses set ``name``, ``summary``, a nested pydantic ``Options`` model
    (``extra="forbid"``) and ``env``: the environment variables holding the credentials they
    need. A part whose provider is gone sets ``unavailable`` to the reason; it stays listed
    but is refused at validation time.
    """

    kind: ClassVar[str] = "part"
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    env: ClassVar[tuple[str, ...]] = ()
    unavailable: ClassVar[str | None] = None

    def __init__(self, options: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.options = self.parse_options(options)

    @classmethod
    def parse_options(cls, raw: BaseModel | Mapping[str, Any] | None) -> Any:
        """Validate ``raw`` into ``cls.Options``; a clear :class:`ConfigError` otherwise."""
        if isinstance(raw, cls.Options):
            return raw
        if isinstance(raw, BaseModel):
            raw = raw.model_dump()
        try:
            return cls.Options.model_validate(dict(raw or {}))
        except ValidationError as exc:
            raise ConfigError(
                f"invalid options for {cls.kind} '{cls.name}':\n{format_validation_error(exc)}",
                hint=f"see the options with `avatarkit plugins --verbose`; set them with "
                f"--{cls.kind}-opt KEY=VALUE or [{cls.kind}.options.{cls.name}] in avatarkit.toml",
            ) from None

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        """Environment variables these ``options`` still need (default: all of ``env``)."""
        return cls.env

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Raise before any network call if this part cannot run with ``options``."""
        if cls.unavailable:
            raise PartUnavailableError(f"{cls.kind} '{cls.name}' is unavailable: {cls.unavailable}")
        environ = os.environ if environ is None else environ
        missing = [var for var in cls.required_env(options) if not environ.get(var)]
        if missing:
            raise MissingCredentialsError(
                f"{cls.kind} '{cls.name}' needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not set",
                hint="export " + " ".join(f"{v}=..." for v in missing)
                + " (or put them in your environment before running avatarkit)",
            )


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``  option 'x': message (got 'value')``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(options)"
        got = err.get("input")
        detail = err["msg"]
        if err["type"] == "extra_forbidden":
            detail = "unknown option"
        if got is not None and err["type"] != "missing" and not isinstance(got, dict):
            detail += f" (got {got!r})"
        lines.append(f"  option '{loc}': {detail}")
    return "\n".join(lines)
