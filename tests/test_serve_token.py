"""`avatarkit serve`'s POST /token: least-privilege grants for one room, short TTL, origin
checks with CORS, clear JSON errors for missing credentials and bad input; the room page
and the vendored LiveKit client are served from the package."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from avatarkit.config import LiveKitSettings
from avatarkit.errors import UsageError
from avatarkit.web import static_dir
from avatarkit.web.origins import normalize_origin
from avatarkit.web.token_server import TokenServer, check_ttl

KEY, SECRET = "APIdevkey", "devsecret-0123456789abcdef0123456789abcdef"
OWN = "http://127.0.0.1:8766"
FORBIDDEN_GRANTS = ("roomCreate", "roomAdmin", "roomList", "roomRecord", "recorder",
                    "ingressAdmin", "hidden", "agent", "canUpdateOwnMetadata", "destinationRoom")


def _settings(url: str | None = "wss://demo.livekit.cloud", key: str | None = KEY,
              secret: str | None = SECRET) -> LiveKitSettings:
    return LiveKitSettings(url=url, api_key=SecretStr(key) if key else None,
                           api_secret=SecretStr(secret) if secret else None)


@pytest.fixture
async def client() -> Any:
    server = TokenServer(_settings(), port=8766, allow_origins=["https://app.example.com"])
    async with TestClient(TestServer(server.app())) as c:
        yield c


async def _token(c: TestClient, body: Any, origin: str | None = OWN) -> tuple[int, Any, Any]:
    headers = {"Origin": origin} if origin else {}
    data = body if isinstance(body, str) else json.dumps(body)
    resp = await c.post("/token", data=data, headers={**headers,
                                                      "Content-Type": "application/json"})
    assert resp.content_type == "application/json"
    return resp.status, await resp.json(), resp.headers


async def test_token_joins_one_room_with_only_the_needed_grants(client: TestClient) -> None:
    status, body, headers = await _token(client, {"room": "demo-1", "identity": "ada",
                                                  "name": "Ada L."})
    assert status == 200, body
    assert set(body) == {"token", "url", "room", "identity", "expires_at"}
    assert body["room"] == "demo-1" and body["identity"] == "ada"
    assert body["url"] == "wss://demo.livekit.cloud"
    assert headers["Cache-Control"] == "no-store"
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ada" and claims["iss"] == KEY and claims["name"] == "Ada L."
    video = claims["video"]
    assert video["roomJoin"] is True and video["room"] == "demo-1"
    assert video.get("canPublish") is True and video.get("canSubscribe") is True
    for grant in FORBIDDEN_GRANTS:
        assert not video.get(grant), grant
    assert set(video) <= {"roomJoin", "room", "canPublish", "canSubscribe", "canPublishData"}
    # signed with the project secret: anything else fails verification
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "another-secret-0123456789abcdef0123", algorithms=["HS256"])


async def test_ttl_is_short_and_expires_at_matches(client: TestClient) -> None:
    now = time.time()
    _, body, _ = await _token(client, {"room": "r"})
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert body["expires_at"] == claims["exp"]
    assert abs(claims["exp"] - (now + 600)) <= 3  # default 10 minutes
    server = TokenServer(_settings(), port=8766, ttl=90)
    async with TestClient(TestServer(server.app())) as c:
        _, body, _ = await _token(c, {"room": "r"})
        assert abs(jwt.decode(body["token"], SECRET, algorithms=["HS256"])["exp"]
                   - (time.time() + 90)) <= 3


@pytest.mark.parametrize("ttl", [0, -5, 3601, 86400])
def test_ttl_over_an_hour_or_not_positive_is_refused(ttl: int) -> None:
    with pytest.raises(UsageError):
        check_ttl(ttl)
    with pytest.raises(UsageError):
        TokenServer(_settings(), ttl=ttl)
    assert check_ttl(3600) == 3600


async def test_identity_is_generated_when_not_given(client: TestClient) -> None:
    _, a, _ = await _token(client, {"room": "r"})
    _, b, _ = await _token(client, {"room": "r"})
    assert a["identity"].startswith("web-") and a["identity"] != b["identity"]
    assert jwt.decode(a["token"], SECRET, algorithms=["HS256"])["sub"] == a["identity"]


async def test_origins(client: TestClient) -> None:
    for origin in (OWN, "http://localhost:8766", "https://app.example.com", None):
        status, body, headers = await _token(client, {"room": "r"}, origin)
        assert status == 200, (origin, body)
    # a configured cross origin gets CORS headers; the own origin needs none
    _, _, headers = await _token(client, {"room": "r"}, "https://app.example.com")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    _, _, headers = await _token(client, {"room": "r"}, OWN)
    assert "Access-Control-Allow-Origin" not in headers
    for origin in ("https://evil.example", "http://127.0.0.1:9999", "null",
                   "https://app.example.com.evil.example", "http://app.example.com"):
        status, body, headers = await _token(client, {"room": "r"}, origin)
        assert status == 403, origin
        assert "not allowed" in body["error"] and "token" not in body
        assert "Access-Control-Allow-Origin" not in headers


async def test_cors_preflight(client: TestClient) -> None:
    ok = await client.options("/token", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in ok.headers["Access-Control-Allow-Headers"]
    refused = await client.options("/token", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers


async def test_any_origin_when_allowed_with_star() -> None:
    server = TokenServer(_settings(), port=8766, allow_origins=["*"])
    async with TestClient(TestServer(server.app())) as c:
        status, _, headers = await _token(c, {"room": "r"}, "https://anything.example")
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "https://anything.example"


@pytest.mark.parametrize("settings, missing", [
    (_settings(key=None, secret=None), ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]),
    (_settings(secret=None), ["LIVEKIT_API_SECRET"]),
    (_settings(url=None), ["LIVEKIT_URL"]),
])
async def test_missing_credentials_give_a_clear_503(settings: LiveKitSettings,
                                                    missing: list[str]) -> None:
    server = TokenServer(settings, port=8766)
    async with TestClient(TestServer(server.app())) as c:
        status, body, _ = await _token(c, {"room": "r"})
        assert status == 503
        assert body["missing"] == missing and "token" not in body
        for name in missing:
            assert name in body["error"]
        health = await (await c.get("/healthz")).json()
        assert health == {"ok": True, "configured": False}


@pytest.mark.parametrize("body, fragment", [
    ("not json", "JSON object"),
    ([1, 2], "JSON object"),
    ({}, "room must be"),
    ({"room": ""}, "room must be"),
    ({"room": "has space"}, "room must be"),
    ({"room": "../etc"}, "room must be"),
    ({"room": "x" * 65}, "room must be"),
    ({"room": 42}, "room must be"),
    ({"room": "ok", "identity": ""}, "identity must be"),
    ({"room": "ok", "identity": "a b"}, "identity must be"),
    ({"room": "ok", "name": "x" * 65}, "name must be"),
    ({"room": "ok", "name": "bell\x07"}, "name must be"),
    ({"room": "ok", "ttl": 99999}, "unknown field"),
    ({"room": "ok", "grants": {"roomAdmin": True}}, "unknown field"),
])
async def test_bad_input_gives_400(client: TestClient, body: Any, fragment: str) -> None:
    status, data, _ = await _token(client, body)
    assert status == 400, data
    assert fragment in data["error"] and "token" not in data


async def test_room_page_and_vendored_client_are_served(client: TestClient) -> None:
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200 and "static/vendor/livekit-client.umd.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert (await client.get("/room.html")).status == 200
    js = await client.get("/static/vendor/livekit-client.umd.js")
    assert js.status == 200 and "javascript" in js.content_type
    body = await js.read()
    meta = json.loads((static_dir() / "vendor" / "livekit-client.json").read_text())
    assert hashlib.sha256(body).hexdigest() == meta["sha256"]
    assert f'"{meta["version"]}"'.encode() in body or meta["version"].encode() in body
    assert (await client.get("/static/../../tokens.py")).status in (403, 404)


def test_origin_normalisation() -> None:
    assert normalize_origin("HTTPS://App.Example.com:443") == "https://app.example.com"
    assert normalize_origin("http://localhost:80/") == "http://localhost"
    assert normalize_origin("http://[::1]:8766") == "http://[::1]:8766"
    for bad in ("example.com", "ftp://x", "https://x/path", "https://user@x"):
        with pytest.raises(UsageError):
            normalize_origin(bad)
