"""Secrets stay secret: masked in every output, never in the environment of children that
need none, never in a printed URL, never resolved as part of a host name."""

from __future__ import annotations

import http.server
import json
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from avatarkit.cli import main
from avatarkit.config import load_config
from cli_runner import run_cli

PLUGIN = """
from pydantic import Field, SecretStr
from avatarkit import Face, PartOptions, hookimpl

class VaultFace(Face):
    name = "vault"
    class Options(PartOptions):
        webhook: SecretStr | None = Field(None, description="a secret with a plain name")
        colour: str = "blue"
    async def start(self, session, transport): ...
    async def aclose(self): ...

@hookimpl
def register_faces(register):
    register(VaultFace)
"""

SECRETS = ("sk-OPTION-openai", "dg-OPTION-deepgram", "tok-OPTION-control", "rt-FILE-realtime",
           "wh-OPTION-webhook", "lk-ENV-secret", "pw-URL-password")


@pytest.fixture
def vault(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-vault", {"ak_vault": PLUGIN}, {"vault": "ak_vault"})


def show(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "show", *args])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    return out


def test_config_show_masks_every_secret_option(vault, capsys, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "avatarkit.toml").write_text(
        '[brain.options.realtime]\napi_key = "rt-FILE-realtime"\n')
    monkeypatch.setenv("LIVEKIT_API_SECRET", "lk-ENV-secret")
    args = ["--brain", "pipeline", "--brain-opt", "openai_api_key=sk-OPTION-openai",
            "--brain-opt", "deepgram_api_key=dg-OPTION-deepgram", "--face", "vault",
            "--fallback", "local", "--face-opt", "vault.webhook=wh-OPTION-webhook",
            "--face-opt", "local.control_token=tok-OPTION-control",
            "--brain-opt", "stt_base_url=https://me:pw-URL-password@stt.example/v1"]
    for fmt in ([], ["--json"]):
        out = show(capsys, *args, *fmt)
        for secret in SECRETS:
            assert secret not in out, (secret, out)
    data = json.loads(out)
    assert data["brain"]["options"]["pipeline"]["openai_api_key"] == "**********"
    assert data["brain"]["options"]["realtime"]["api_key"] == "**********"
    assert data["face"]["options"]["vault"] == {"webhook": "**********"}
    assert data["face"]["options"]["local"]["control_token"] == "**********"
    assert data["brain"]["options"]["pipeline"]["stt_base_url"] == (
        "https://**********@stt.example/v1")


def test_secret_options_are_secretstr_in_the_config(clean_env) -> None:
    cfg = load_config(environ={}, brain="pipeline",
                      brain_opts=["openai_api_key=sk-OPTION-openai", "llm_api_key_env=MY_KEY"],
                      face_opts=["control_token=tok-OPTION-control"])
    text = repr(cfg) + str(cfg.masked()) + cfg.model_dump_json()
    assert "sk-OPTION-openai" not in text and "tok-OPTION-control" not in text
    assert cfg.masked()["brain"]["options"]["pipeline"]["llm_api_key_env"] == "MY_KEY"
    from avatarkit.brains.pipeline import PipelineBrain

    options = PipelineBrain.parse_options(
        {k: v for k, v in cfg.brain.selected_options().items() if k != "llm_api_key_env"})
    assert options.openai_api_key.get_secret_value() == "sk-OPTION-openai"


def test_a_refused_secret_is_not_repeated(capsys, clean_env) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "show", "--brain", "pipeline", "--brain-opt",
              "openai_api_key=31415926535"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "openai_api_key" in err
    assert "31415926535" not in err


def test_the_worker_plan_travels_pickled_not_in_the_environment(clean_env) -> None:
    from avatarkit.composer import make_plan
    from avatarkit.worker.server import JobSetup, build_server

    environ = {"LIVEKIT_URL": "ws://127.0.0.1:9", "LIVEKIT_API_KEY": "k",
               "LIVEKIT_API_SECRET": "lk-ENV-secret"}
    cfg = load_config(environ=environ, brain="realtime", face="none",
                      brain_opts=["api_key=rt-OPTION-realtime"])
    plan = make_plan(cfg, environ=environ)
    before = dict(os.environ)
    build_server(plan)
    assert dict(os.environ) == before  # nothing exported for the job processes
    setup = pickle.loads(pickle.dumps(JobSetup(plan)))
    assert setup.plan.brain_options.api_key.get_secret_value() == "rt-OPTION-realtime"
    assert setup.plan.config == plan.config


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append((self.path, self.headers.get("Host", ""),
                          self.headers.get("Authorization", "")))
        body = json.dumps({"data": [{"id": "m"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[int]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Recorder.seen.clear()
    yield int(httpd.server_address[1])
    httpd.shutdown()


def test_userinfo_in_base_url_is_basic_auth_not_a_host_name(recorder: int) -> None:
    import base64

    from avatarkit.engines.endpoint import check_openai_endpoint

    assert check_openai_endpoint(f"http://ada:p%40ss@127.0.0.1:{recorder}/v1") == ["m"]
    [(path, host, auth)] = _Recorder.seen
    assert (path, host) == ("/v1/models", f"127.0.0.1:{recorder}")
    assert auth == "Basic " + base64.b64encode(b"ada:p@ss").decode()


@pytest.mark.local_extra
def test_demo_never_prints_nor_resolves_a_password_in_base_url(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from avatarkit.engines.probes import free_loopback_port

    port = free_loopback_port()
    for var in [v for v in os.environ if v.startswith(("AVATARKIT_", "LIVEKIT_"))]:
        monkeypatch.delenv(var)
    for var, value in {"AVATARKIT_LOAD_PLUGINS": "", "AVATARKIT_QUIET": "1",
                       "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "demo", "--face", "none", "--brain-opt",
                     f"base_url=http://ada:hunter2@127.0.0.1:{port}/v1", "--output",
                     str(tmp_path / "out.mp4"))
    assert result.returncode == 1, result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert f"no OpenAI-compatible LLM server answers at http://127.0.0.1:{port}/v1" \
        in result.stderr
    lookups = [entry for entry in result.network if entry.startswith("lookup")]
    assert not [entry for entry in lookups if "@" in entry or "ada" in entry], lookups


def test_espeak_gets_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wave

    from avatarkit.engines import say

    fake = tmp_path / "espeak-ng"
    fake.write_text(f"#!/bin/sh\nenv > {tmp_path}/env\ncat {tmp_path}/speech.wav\n")
    fake.chmod(0o755)
    with wave.open(str(tmp_path / "speech.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(b"\x00\x10" * 22050)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-espeak")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "lk-not-for-espeak")
    monkeypatch.setattr(say, "resolve_tts", lambda *a: "espeak")
    samples = say.speak_16k("hello")
    assert len(samples) > 16000
    env = (tmp_path / "env").read_text()
    assert "not-for-espeak" not in env and "PATH=" in env
