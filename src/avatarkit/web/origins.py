"""Which browser origins may call a server: the playground's ``POST /offer`` and the token
endpoint (no heavy imports)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ..errors import UsageError

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped; ``*`` kept as is.

    Raises :class:`~avatarkit.errors.UsageError` for anything that is not an origin.
    """
    text = origin.strip()
    if text == "*":
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise UsageError(f"not an origin: {origin!r}",
                         hint="give scheme://host[:port], e.g. https://app.example.com")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def own_origins(host: str, port: int) -> set[str]:
    """The origins a page served by this server has (``http://HOST:PORT``, plus the
    loopback names when bound to loopback or to every interface)."""
    names = {host if ":" not in host or host.startswith("[") else f"[{host}]"}
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""):
        names.update(_LOOPBACK_NAMES)
    names.discard("")
    names.discard("0.0.0.0")
    names.discard("[::]")
    return {normalize_origin(f"http://{name}:{port}") for name in names}


class OriginPolicy:
    """Which browser origins may call an endpoint.

    A request without an ``Origin`` header is not from a cross-site page (browsers always
    send it on cross-origin requests and on POST), so it is allowed; a request whose
    origin is neither this server's own nor in ``allowed`` is refused.
    """

    def __init__(self, own: Iterable[str] = (), allowed: Iterable[str] = ()) -> None:
        self.own = {normalize_origin(o) for o in own}
        self.allowed = {normalize_origin(o) for o in allowed}

    def allows(self, origin: str | None) -> bool:
        if origin is None:
            return True
        if "*" in self.allowed:
            return True
        try:
            value = normalize_origin(origin)
        except UsageError:
            return False
        return value in self.own or value in self.allowed

    def is_cross_origin(self, origin: str | None) -> bool:
        """True for an allowed origin that is not this server's own (needs CORS headers)."""
        if origin is None:
            return False
        try:
            return normalize_origin(origin) not in self.own
        except UsageError:
            return True
