"""Check the LiveKit settings against the server before a worker starts.

One authenticated request (RoomService ``ListRooms``, the same key/secret the worker signs
its tokens with) tells apart the mistakes users make: nothing listening, TLS where the
server speaks plain ``ws://`` (or the reverse), an unknown API key, a secret that does
not match the key, a URL that is not a LiveKit server. Each becomes one
:class:`LiveKitSetupError` line naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import AvatarkitError

if TYPE_CHECKING:
    from ..config import LiveKitSettings

CHECK_TIMEOUT = 10.0
_SETTINGS_HINT = ("set LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET (or [livekit] in "
                  "avatarkit.toml); `livekit-server --dev` uses ws://127.0.0.1:7880, "
                  "devkey, secret")


class LiveKitSetupError(AvatarkitError):
    """The LiveKit server cannot be used with these settings (exit code 1)."""


def http_base(url: str) -> str:
    """``ws(s)://host[:port][/path]`` -> ``http(s)://host[:port][/path]`` (no trailing /)."""
    parsed = urlparse(url)
    scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
    return f"{scheme}://{parsed.netloc}{parsed.path}".rstrip("/")


async def check_livekit(settings: LiveKitSettings, *, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise :class:`LiveKitSetupError` unless the server answers and accepts the key."""
    import aiohttp
    from livekit import api

    assert settings.url and settings.api_key and settings.api_secret
    url = settings.url
    key = settings.api_key.get_secret_value()
    token = (api.AccessToken(key, settings.api_secret.get_secret_value())
             .with_grants(api.VideoGrants(room_list=True)).to_jwt())
    endpoint = http_base(url) + "/twirp/livekit.RoomService/ListRooms"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    tls = urlparse(url).scheme in ("wss", "https")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as client, \
                client.post(endpoint, data="{}", headers=headers) as resp:
            status = resp.status
            body = (await resp.text(errors="replace"))[:2000]
    except asyncio.TimeoutError:
        raise LiveKitSetupError(f"LiveKit at {url} (LIVEKIT_URL) did not answer within "
                                f"{timeout:g} s", hint=_SETTINGS_HINT) from None
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        raise _tls_error(url, tls, exc) from None
    except aiohttp.ClientConnectorError as exc:
        raise LiveKitSetupError(
            f"cannot reach LiveKit at {url} (LIVEKIT_URL): {_reason(exc)}",
            hint="is the server running? " + _SETTINGS_HINT) from None
    except aiohttp.ClientError as exc:
        if tls:
            raise _tls_error(url, tls, exc) from None
        raise LiveKitSetupError(
            f"LiveKit at {url} (LIVEKIT_URL) broke the connection: {_reason(exc)}; "
            "if the server uses TLS, the URL must start with wss://", hint=_SETTINGS_HINT
        ) from None
    if status == 200:
        return
    if status == 401 and "invalid api key" in body.lower():
        raise LiveKitSetupError(
            f"LiveKit at {url} does not know the API key {key!r} (LIVEKIT_API_KEY)",
            hint="use a key from the server's `keys:` config or the LiveKit Cloud project")
    if status == 401:
        raise LiveKitSetupError(
            f"LiveKit at {url} rejected the tokens signed with LIVEKIT_API_SECRET: the secret "
            f"does not match the API key {key!r}",
            hint="copy the secret that belongs to this key (server `keys:` config or the "
            "LiveKit Cloud project settings)")
    raise LiveKitSetupError(
        f"{url} (LIVEKIT_URL) does not answer like a LiveKit server (HTTP {status} on its "
        "RoomService API)", hint=_SETTINGS_HINT)


def _tls_error(url: str, tls: bool, exc: BaseException) -> LiveKitSetupError:
    plain = url.replace("wss://", "ws://", 1).replace("https://", "http://", 1)
    if tls and "WRONG_VERSION_NUMBER" in str(exc):
        return LiveKitSetupError(
            f"{url} (LIVEKIT_URL) asks for TLS but the server there speaks plain WebSocket",
            hint=f"use LIVEKIT_URL={plain} (a local `livekit-server --dev` has no TLS)")
    return LiveKitSetupError(f"TLS with {url} (LIVEKIT_URL) failed: {_reason(exc)}",
                             hint="check the host name and the server's certificate")


def _reason(exc: BaseException) -> str:
    """A short reason without the library's long wording (no traceback)."""
    inner = getattr(exc, "os_error", None) or exc.__cause__ or exc
    code = getattr(inner, "errno", None)
    if isinstance(code, int) and code > 0 and not isinstance(inner, ssl.SSLError):
        return os.strerror(code).lower()
    text = str(getattr(inner, "reason", None) or inner).strip()
    return text.splitlines()[0] if text else type(inner).__name__


__all__ = ["LiveKitSetupError", "check_livekit", "http_base"]
