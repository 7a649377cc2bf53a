"""Join tokens: only room_join for one room, the right identity, a short TTL."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from avatarkit.errors import UsageError
from avatarkit.tokens import decode_grants, make_join_token

KEY, SECRET = "APIkey123", "secret-0123456789abcdef0123456789abcdef"


def test_token_grants_only_joining_one_room() -> None:
    token = make_join_token(room="demo", identity="user-1", api_key=KEY, api_secret=SECRET,
                            name="Ada")
    claims = decode_grants(token, SECRET)
    assert claims["sub"] == "user-1" and claims["iss"] == KEY and claims["name"] == "Ada"
    video = claims["video"]
    assert video == {"roomJoin": True, "room": "demo", "canPublish": True,
                     "canSubscribe": True, "canPublishData": True}
    for forbidden in ("roomCreate", "roomAdmin", "roomList", "roomRecord", "recorder",
                      "agent", "ingressAdmin", "hidden", "canUpdateOwnMetadata"):
        assert forbidden not in video
    for other in ("sip", "inference", "observability", "roomConfig", "kind"):
        assert other not in claims


def test_token_can_dispatch_a_named_agent_to_the_room() -> None:
    token = make_join_token(room="demo", identity="user-1", api_key=KEY, api_secret=SECRET,
                            agent_name="ava")
    claims = decode_grants(token, SECRET)
    assert claims["roomConfig"] == {"agents": [{"agentName": "ava"}]}
    assert claims["video"]["room"] == "demo" and "roomAdmin" not in claims["video"]


def test_token_ttl_defaults_to_ten_minutes_and_is_configurable() -> None:
    now = time.time()
    claims = decode_grants(make_join_token(room="r", identity="i", api_key=KEY,
                                           api_secret=SECRET), SECRET)
    assert abs(claims["exp"] - (now + 600)) <= 2
    claims = decode_grants(make_join_token(room="r", identity="i", api_key=KEY,
                                           api_secret=SECRET, ttl=timedelta(hours=2)), SECRET)
    assert abs(claims["exp"] - (now + 7200)) <= 2
    assert claims["nbf"] <= now + 1


def test_token_permissions_can_be_narrowed() -> None:
    token = make_join_token(room="r", identity="viewer", api_key=KEY, api_secret=SECRET,
                            can_publish=False, can_publish_data=False)
    video = decode_grants(token, SECRET)["video"]
    assert video["canPublish"] is False and video["canPublishData"] is False
    assert video["canSubscribe"] is True and video["roomJoin"] is True


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(hours=24,
                                                                                seconds=1)])
def test_bad_ttl_is_a_usage_error(ttl: timedelta) -> None:
    with pytest.raises(UsageError, match="ttl must be more than 0 and at most 24 h"):
        make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET, ttl=ttl)


def test_ttl_of_exactly_24h_is_allowed() -> None:
    make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET,
                    ttl=timedelta(hours=24))


@pytest.mark.parametrize("field", ["room", "identity", "api_key", "api_secret"])
def test_empty_fields_are_usage_errors(field: str) -> None:
    kwargs = {"room": "r", "identity": "i", "api_key": KEY, "api_secret": SECRET, field: " "}
    with pytest.raises(UsageError, match=f"{field} is empty"):
        make_join_token(**kwargs)


def test_decode_rejects_a_wrong_secret() -> None:
    token = make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET)
    with pytest.raises(jwt.InvalidSignatureError):
        decode_grants(token, "another-secret-0123456789abcdef0123")
