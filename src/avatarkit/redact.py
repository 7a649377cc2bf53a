"""Keeping credentials out of what avatarkit prints and out of child processes.

- :func:`redact_url`: a URL without its ``user:password@`` part (every printed URL);
- :func:`mask_userinfo`: the same, showing that credentials are there (``config show``);
- :func:`split_userinfo`: a URL without userinfo plus the credentials, for HTTP clients
  that would otherwise resolve ``user:password@host`` as a host name;
- :func:`is_secret_name`: whether an option name holds a credential (masked everywhere);
- :func:`child_env`: the environment for a child that needs no credentials (llama-server,
  espeak-ng): no ``*_KEY``/``*_SECRET``/``*_TOKEN``/password variables, no ``LIVEKIT_*``.
- :func:`check_url`: one validator for every URL option (scheme, host, port).

Cheap to import: standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")
_SECRET_OPTION = re.compile(
    r"(?:^|_)(?:key|secret|token|password|passwd|credentials?)(?:$|_)", re.IGNORECASE)
_SECRET_ENV = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
HTTP_SCHEMES = ("http", "https")


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part (also for malformed URLs)."""
    return _USERINFO.sub(r"\1", url, count=1)


def mask_userinfo(value: str) -> str:
    """``value`` with any URL ``user:password@`` part shown as ``**********@`` (so a user
    sees that credentials are set, never what they are)."""
    return _USERINFO.sub(r"\1**********@", value, count=1)


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without userinfo, (user, password) or None)``; percent-escapes decoded."""
    match = _USERINFO.match(url)
    if match is None:
        return url, None
    user, _, password = match.group(2).partition(":")
    return redact_url(url), (unquote(user), unquote(password))


def is_secret_name(name: str) -> bool:
    """Whether an option called ``name`` holds a credential (``api_key``,
    ``openai_api_key``, ``control_token``, ``api_secret``, ``password``...). Names ending
    in ``_env`` hold the *name* of a variable and are not secret."""
    return not name.lower().endswith("_env") and bool(_SECRET_OPTION.search(name))


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` for a child process that needs no credentials.

    Drops variables whose name says they hold a credential (``*KEY*``, ``*SECRET*``,
    ``*TOKEN*``, ``*PASSWORD*``, ``*AUTH*``...), every ``LIVEKIT_*`` variable, avatarkit's
    own settings, and any variable whose value is a URL carrying a password.
    """
    environ = os.environ if environ is None else environ
    return {
        name: value for name, value in environ.items()
        if not _SECRET_ENV.search(name)
        and not name.startswith(("LIVEKIT_", "AVATARKIT_"))
        and not ("://" in value and redact_url(value) != value)
    }


def check_url(value: str, schemes: tuple[str, ...] = HTTP_SCHEMES) -> str:
    """``value`` if it is an absolute URL with one of ``schemes``, a host and a valid port;
    a ``ValueError`` otherwise (its message never repeats the URL: callers show it
    through :func:`redact_url`)."""
    wanted = " or ".join(f"{s}://" for s in schemes)
    example = f"{schemes[0]}://HOST:PORT/..."
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"must be a URL like {example} without spaces")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        reason = str(exc).split(":")[0]  # never the rest: it can quote the password
        raise ValueError(f"is not a valid URL ({reason}); expected {example}") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"must start with {wanted}")
    if not parts.hostname:
        raise ValueError(f"has no host name; expected {example}")
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a listening interface) only accepts connections from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
