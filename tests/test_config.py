"""Configuration merging, precedence and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from avatarkit.config import load_config
from avatarkit.errors import ConfigError


def test_defaults_are_the_offline_parts(clean_env) -> None:
    cfg = load_config(environ={})
    assert (cfg.brain.name, cfg.face.name) == ("local", "local")
    assert cfg.face.chain() == ["local", "none"]


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    file = tmp_path / "a.toml"
    file.write_text('[brain]\nname = "pipeline"\n[face]\nname = "heygen"\n'
                    '[agent]\ngreeting = "from file"\n')
    cfg = load_config(path=file, environ={"AVATARKIT_FACE": "local",
                                          "AVATARKIT_GREETING": "from env"})
    assert cfg.brain.name == "pipeline" and cfg.face.name == "local"
    assert cfg.agent.greeting == "from env"
    cfg = load_config(path=file, environ={"AVATARKIT_FACE": "local"}, face="none")
    assert cfg.face.name == "none"


def test_fallback_chain_forms_and_dedup() -> None:
    cfg = load_config(environ={"AVATARKIT_FALLBACK": "heygen -> local"}, face="heygen")
    assert cfg.face.chain() == ["heygen", "local", "none"]
    cfg = load_config(environ={}, face="heygen", fallback=["local,none", "local"])
    assert cfg.face.chain() == ["heygen", "local", "none"]


def test_opts_target_selected_part_and_named_fallback() -> None:
    cfg = load_config(environ={}, brain="pipeline", face="heygen", fallback=["local"],
                      brain_opts=["temperature=0.6", "llm=vllm"],
                      face_opts=["sandbox=true", "local.background=studio"])
    assert cfg.brain.selected_options() == {"temperature": 0.6, "llm": "vllm"}
    assert cfg.face.options_for("heygen") == {"sandbox": True}
    assert cfg.face.options_for("local") == {"background": "studio"}


def test_secrets_are_masked_and_never_in_repr() -> None:
    cfg = load_config(environ={"LIVEKIT_API_SECRET": "super-secret-value",
                               "LIVEKIT_API_KEY": "key-value"})
    assert "super-secret-value" not in repr(cfg) and "super-secret-value" not in str(
        cfg.masked())
    assert cfg.livekit.api_secret is not None
    assert cfg.livekit.api_secret.get_secret_value() == "super-secret-value"
    assert cfg.livekit.missing() == ["LIVEKIT_URL"]


@pytest.mark.parametrize("environ, needle", [
    ({"LIVEKIT_URL": "livekit.example.com"}, "livekit.url"),
    ({"AVATARKIT_JOIN_TIMEOUT": "-1"}, "face.join_timeout"),
    ({"AVATARKIT_LOAD_THRESHOLD": "2"}, "worker.load_threshold"),
])
def test_invalid_values_name_the_setting(environ: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(environ=environ)


def test_unknown_table_key_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "avatarkit.toml"
    file.write_text("[face]\nnmae = 'local'\n")
    with pytest.raises(ConfigError, match="face.nmae"):
        load_config(path=file, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(path=tmp_path / "nope.toml", environ={})


@pytest.mark.local_extra
@pytest.mark.parametrize("name", ["avatarkit.offline.toml", "avatarkit.cloud.toml",
                                  "avatarkit.vllm.toml", "interview/avatarkit.toml"])
def test_example_configs_validate(name: str) -> None:
    from avatarkit.composer import make_plan

    path = Path(__file__).resolve().parents[1] / "examples" / name
    environ = {var: "x" for var in (
        "OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY", "ELEVEN_API_KEY",
        "LIVEAVATAR_API_KEY",
        "LIVEAVATAR_AVATAR_ID", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")}
    environ["LIVEKIT_URL"] = "wss://example.livekit.cloud"
    plan = make_plan(load_config(path=path, environ=environ), environ=environ)
    assert plan.faces[-1].cls.name == "none"
