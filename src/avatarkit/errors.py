"""One exception hierarchy. Every message says what went wrong and what to do next."""

from __future__ import annotations


class AvatarkitError(Exception):
    """Base of every error avatarkit raises on purpose.

    ``exit_code`` is what the CLI exits with: 2 for bad input (usage), 1 for runtime failures.
    ``hint`` is an optional "what to do next" line printed under the message.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(AvatarkitError):
    """The user asked for something that cannot work as given (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """The merged configuration (TOML, env, flags) is invalid."""


class UnknownPartError(UsageError):
    """No brain or face is registered under that name."""


class PartUnavailableError(UsageError):
    """The part is installed but cannot be used (e.g. the provider shut the service down)."""


class MissingCredentialsError(UsageError):
    """Environment variables a chosen part needs are not set."""


class PluginLoadError(AvatarkitError):
    """A plugin distribution failed to import or register (fatal only in strict mode)."""


class DuplicatePartError(AvatarkitError):
    """Two distributions registered a part under the same kind and name."""


class FaceStartError(AvatarkitError):
    """A face could not attach to the session; the composer falls back to the next face."""


class CapabilityError(UsageError):
    """The face does not support the requested run-time control (emotion, background)."""


def did_you_mean(name: str, known: list[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``known`` names, else ``""``."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


def clip(value: object, limit: int = 80) -> str:
    """A user's value for a message: ``repr`` of a string, cut to about ``limit``
    characters (``'abc...' (1234 characters)``) so a huge bad value never floods the
    terminal; control characters stay visible as escapes."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else text
    head = text[: max(8, limit - 24)]
    return (f"{repr(head)}..." if isinstance(value, str) else f"{head}...") + (
        f" ({len(text)} characters)")


def describe(exc: object) -> str:
    """One line for a log or a message: an avatarkit error's own message, otherwise
    ``Type: first line of the text`` (``None`` -> ``no error``)."""
    if exc is None:
        return "no error"
    if isinstance(exc, AvatarkitError):
        return exc.message
    if not isinstance(exc, BaseException):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
