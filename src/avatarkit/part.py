"""What brains and faces share: class-level metadata and validated options."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
)

from .errors import ConfigError, MissingCredentialsError, PartUnavailableError, clip
from .redact import check_url, is_secret_name, redact_url

if TYPE_CHECKING:
    from .checks import Check

#: An ``http://`` or ``https://`` URL option (``base_url`` and friends), checked at load.
HttpUrl = Annotated[str, AfterValidator(check_url)]



def require_env(what: str, variables: tuple[str, ...] | list[str],
                environ: Mapping[str, str] | None, alternative: str) -> None:
    """Raise :class:`MissingCredentialsError` naming the unset ``variables`` ``what`` needs
    (and, in the hint, the ``alternative`` to exporting them)."""
    environ = os.environ if environ is None else environ
    missing = [var for var in variables if not environ.get(var)]
    if missing:
        raise MissingCredentialsError(
            f"{what} needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not set",
            hint="export " + " ".join(f"{v}=..." for v in missing) + f" ({alternative})",
        )

class PartOptions(BaseModel):
    """Base for a part's nested ``Options``: unknown keys are refused, ``true``/``false``
    is refused for a number (pydantic would read it as 1/0), and the validation schema is
    built on first use (so listing many plugins stays fast)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not _accepts_bool(field.annotation):
            raise ValueError(f"expected {_type_words(field.annotation)}, not true/false")
        return value


def _flat_types(annotation: Any) -> list[Any]:
    """The member types of ``annotation`` (unions and ``Annotated`` unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flat_types(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [t for arg in typing.get_args(annotation) for t in _flat_types(arg)]
    return [annotation]


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field of this type may be given ``true``/``false``."""
    for t in _flat_types(annotation):
        if t is type(None):
            continue
        if t in (bool, Any, object) or typing.get_origin(t) is typing.Literal:
            return True
        if not isinstance(t, type) or not issubclass(t, (int, float, str)):
            return True  # models, lists, custom types: leave it to pydantic
    return False


def _type_words(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", str: "text"}
    found = [names[t] for t in _flat_types(annotation) if t in names]
    return " or ".join(dict.fromkeys(found)) or "a value"


class NoOptions(PartOptions):
    """Options model of a part that takes none."""


class Part:
    """Base of :class:`~avatarkit.brain.Brain` and :class:`~avatarkit.face.Face`.

    Subclasses set ``name``, ``summary``, a nested pydantic ``Options`` model
    (``extra="forbid"``) and ``env``: the environment variables holding the credentials they
    need. A part whose provider is gone sets ``unavailable`` to the reason; it stays listed
    but is refused at validation time.

    What ``avatarkit doctor`` checks is declared here too, never looked up by name:
    ``requires`` (or :meth:`required_modules`), :meth:`doctor_checks` (files, binaries,
    models on this machine) and :meth:`check_reachable` (the part's own servers).
    """

    kind: ClassVar[str] = "part"
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    env: ClassVar[tuple[str, ...]] = ()
    unavailable: ClassVar[str | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    """Python modules the part needs at run time (``doctor`` checks, never imports them)."""

    def __init__(self, options: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.options = self.parse_options(options)

    @classmethod
    def parse_options(cls, raw: BaseModel | Mapping[str, Any] | None) -> Any:
        """Validate ``raw`` into ``cls.Options``; a clear :class:`ConfigError` otherwise."""
        if isinstance(raw, cls.Options):
            return raw
        if isinstance(raw, BaseModel):
            raw = raw.model_dump()
        # the configuration keeps credential-named options as SecretStr; the part's own
        # model decides (a SecretStr field wraps the value again)
        plain = {key: value.get_secret_value() if isinstance(value, SecretStr) else value
                 for key, value in dict(raw or {}).items()}
        try:
            return cls.Options.model_validate(plain)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid options for {cls.kind} '{cls.name}':\n{format_validation_error(exc)}",
                hint=f"see the options with `avatarkit plugins --verbose`; set them with "
                f"--{cls.kind}-opt KEY=VALUE or [{cls.kind}.options.{cls.name}] in avatarkit.toml",
            ) from None

    @classmethod
    def secret_options(cls) -> frozenset[str]:
        """Names of the options that hold credentials: ``SecretStr`` fields, and fields
        named like one (``api_key``, ``*_token``...). They are masked wherever shown."""
        fields = getattr(cls.Options, "model_fields", {})
        return frozenset(
            name for name, field in fields.items()
            if is_secret_name(name) or SecretStr in _flat_types(field.annotation))

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        """Environment variables these ``options`` still need (default: all of ``env``)."""
        return cls.env

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules these ``options`` need (default: ``requires``)."""
        return cls.requires

    @classmethod
    def doctor_checks(cls, options: Any) -> list[Check]:
        """Local checks for ``avatarkit doctor`` (files, binaries, models): fast, no network.

        Default: none. Options, modules and environment variables are checked already.
        """
        return []

    @classmethod
    async def check_reachable(cls, options: Any, timeout: float) -> list[Check]:
        """Network checks for ``avatarkit doctor``: the part's own servers answer within
        ``timeout`` seconds. Default: none (``base_url``/``*_url`` options are checked
        already). Must not raise, must not start a paid session."""
        return []

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Raise before any network call if this part cannot run with ``options``."""
        if cls.unavailable:
            raise PartUnavailableError(f"{cls.kind} '{cls.name}' is unavailable: {cls.unavailable}")
        require_env(f"{cls.kind} '{cls.name}'", cls.required_env(options), environ,
                    "or put them in your environment before running avatarkit")


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``  option 'x': message (got 'value')``.

    The value is cut to a readable length, a URL is shown without its credentials, and the
    value of a credential-named option (``api_key``...) is never shown.
    """
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        detail = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            detail = "unknown option"
        names = [str(p) for p in err["loc"]]
        secret = any(is_secret_name(n) for n in names) or isinstance(got, SecretStr)
        if (got is not None and err["type"] != "missing" and not isinstance(got, dict)
                and not secret):
            shown = redact_url(got) if isinstance(got, str) else got
            detail += f" (got {clip(shown)})"
        lines.append(f"  option '{loc}': {detail}" if loc else f"  {detail}")
    return "\n".join(lines)
