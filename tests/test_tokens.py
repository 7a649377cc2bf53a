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
                                           api_secret=SECRET, ttl=timedelta(minutes=45)),
                           SECRET)
    assert abs(claims["exp"] - (now + 2700)) <= 2
    assert claims["nbf"] <= now + 1


def test_token_permissions_can_be_narrowed() -> None:
    token = make_join_token(room="r", identity="viewer", api_key=KEY, api_secret=SECRET,
                            can_publish=False, can_publish_data=False)
    video = decode_grants(token, SECRET)["video"]
    assert video["canPublish"] is False and video["canPublishData"] is False
    assert video["canSubscribe"] is True and video["roomJoin"] is True


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(hours=1,
                                                                                seconds=1),
                                 timedelta(hours=24)])
def test_bad_ttl_is_a_usage_error(ttl: timedelta) -> None:
    with pytest.raises(UsageError, match=r"ttl must be more than 0 and at most 3600 s \(1 h\)"):
        make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET, ttl=ttl)


def test_ttl_of_exactly_one_hour_is_allowed() -> None:
    make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET,
                    ttl=timedelta(hours=1))


def test_cli_and_web_share_one_ttl_ceiling() -> None:
    from avatarkit import tokens
    from avatarkit.web import token_server

    assert token_server.MAX_TTL == tokens.MAX_TTL_SECONDS == 3600
    for ttl in (3600, 1):
        assert token_server.check_ttl(ttl) == tokens.check_ttl(ttl) == ttl
    for ttl in (3601, 0):
        with pytest.raises(UsageError):
            tokens.check_ttl(ttl)
        with pytest.raises(UsageError):
            token_server.check_ttl(ttl)


BAD_ROOMS = ["demo\n", "de*mo", "*", "has space", "tab\there", "x" * 65, "", "-lead",
             "nul\x00"]


@pytest.mark.parametrize("room", BAD_ROOMS)
def test_bad_room_names_are_refused_by_the_token_maker(room: str) -> None:
    with pytest.raises(UsageError, match="room"):
        make_join_token(room=room, identity="i", api_key=KEY, api_secret=SECRET)


@pytest.mark.parametrize("room", BAD_ROOMS)
def test_cli_token_and_serve_refuse_the_same_room_names(room: str, capsys,
                                                        monkeypatch) -> None:
    from pydantic import ValidationError

    from avatarkit.cli import main
    from avatarkit.web.token_server import TokenRequest, token_request_problem

    with pytest.raises(ValidationError) as refused:  # serve's POST /token: 400
        TokenRequest.model_validate({"room": room})
    assert "room must be 1-64 characters" in token_request_problem(refused.value)
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--room", room, "--identity", "user-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--room" in err and "room must be 1-64 characters" in err


def test_cli_token_accepts_a_good_room(capsys, monkeypatch) -> None:
    from avatarkit.cli import main

    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--room", "demo-1", "--identity", "user-1", "--ttl", "3600"])
    assert exit_info.value.code == 0
    claims = decode_grants(capsys.readouterr().out.strip(), SECRET)
    assert claims["video"]["room"] == "demo-1"


@pytest.mark.parametrize("field", ["room", "identity", "api_key", "api_secret"])
def test_empty_fields_are_usage_errors(field: str) -> None:
    kwargs = {"room": "r", "identity": "i", "api_key": KEY, "api_secret": SECRET, field: " "}
    with pytest.raises(UsageError, match=f"{field} is empty"):
        make_join_token(**kwargs)


def test_decode_rejects_a_wrong_secret() -> None:
    token = make_join_token(room="r", identity="i", api_key=KEY, api_secret=SECRET)
    with pytest.raises(jwt.InvalidSignatureError):
        decode_grants(token, "another-secret-0123456789abcdef0123")
