"""The CLI: bad input gives one clear message and exit 2 before any network connection.

In-process (``avatarkit.cli.main``, :mod:`cli_runner`) for speed; one test runs the same
refusals in a fresh interpreter under an audit hook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import PROVIDER_VARS, assert_usage_error

# Runs usage errors in a fresh interpreter with an audit hook that reports every socket
# connection attempt (nothing imported or cached by other tests).
RUNNER = (
    "import json, sys\n"
    "def hook(event, args):\n"
    "    if event == 'socket.connect':\n"
    "        print('NETWORK-CONNECT', args[1], file=sys.stderr)\n"
    "sys.addaudithook(hook)\n"
    "from avatarkit.cli import main\n"
    "for args in json.loads(sys.argv[1]):\n"
    "    try:\n"
    "        main(args)\n"
    "    except SystemExit as exc:\n"
    "        print('EXIT', exc.code, file=sys.stderr)\n"
)


def test_usage_errors_connect_nowhere_in_a_fresh_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_VARS)}
    env["OPENAI_API_KEY"] = "sk-test"
    commands = [["run", "--brain", "realtime", "--face", "heygn"],
                ["run", "--brain", "realtime", "--face", "none", "--fallback", "heygen"],
                ["run", "--brain", "realtime", "--face", "none"],
                ["config", "show", "--face", "heygn"]]
    result = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(commands)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.stderr.count("EXIT 2") == len(commands), result.stderr
    assert "NETWORK-CONNECT" not in result.stderr and "Traceback" not in result.stderr


def test_unknown_face_suggests_a_name(cli, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--brain", "realtime", "--face", "heygn", cwd=tmp_path),
                       "unknown", "did you mean 'heygen'")


def test_unknown_brain(cli, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--brain", "realtme", cwd=tmp_path),
                       "unknown brain 'realtme'", "did you mean 'realtime'")


def test_invalid_option_value_names_the_option(cli, tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-test", "LIVEAVATAR_API_KEY": "k"}
    result = cli("run", "--brain", "realtime", "--face", "heygen",
                 "--face-opt", "video_quality=ultra", env=env, cwd=tmp_path)
    assert_usage_error(result, "heygen", "video_quality")


def test_unknown_option_is_refused(cli, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--brain-opt", "temprature=0.5",
                 env={"OPENAI_API_KEY": "sk-test"}, cwd=tmp_path)
    assert_usage_error(result, "temprature", "unknown option")


def test_option_without_equals(cli, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--brain-opt", "oops", cwd=tmp_path), "KEY=VALUE")


def test_malformed_toml_names_the_file(cli, tmp_path: Path) -> None:
    bad = tmp_path / "avatarkit.toml"
    bad.write_text("[brain\nname = 'realtime'\n")
    assert_usage_error(cli("config", "show", cwd=tmp_path), "malformed TOML", "avatarkit.toml")


def test_missing_credentials_name_the_variables(cli, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--face", "heygen", cwd=tmp_path)
    assert_usage_error(result, "OPENAI_API_KEY")


def test_missing_credentials_in_the_fallback_chain(cli, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--face", "none", "--fallback", "heygen",
                 env={"OPENAI_API_KEY": "sk-test"}, cwd=tmp_path)
    assert_usage_error(result, "LIVEAVATAR_API_KEY")


def test_run_without_livekit_settings_says_what_to_set(cli, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--face", "none",
                 env={"OPENAI_API_KEY": "sk-test"}, cwd=tmp_path)
    assert_usage_error(result, "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def test_hedra_fails_fast_naming_alternatives(cli, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--face", "hedra",
                 env={"OPENAI_API_KEY": "sk-test"}, cwd=tmp_path)
    assert_usage_error(result, "Hedra", "--face heygen", "--face local")


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:
    result = cli("--debug", "run", "--brain", "realtme", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_config_show_merges_sources_and_masks_secrets(cli, tmp_path: Path) -> None:
    (tmp_path / "avatarkit.toml").write_text(
        '[brain]\nname = "realtime"\n[face]\nname = "heygen"\nfallback = ["heygen"]\n'
        '[face.options.heygen]\navatar_id = "from-file"\nvideo_quality = "low"\n'
        '[livekit]\napi_secret = "file-secret-value"\n'
    )
    env = {"AVATARKIT_FACE": "none", "LIVEKIT_API_KEY": "env-key-value",
           "LIVEKIT_URL": "wss://example.livekit.cloud"}
    result = cli("config", "show", "--json", "--brain", "pipeline",
                 "--face-opt", "heygen.video_quality=high", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["brain"]["name"] == "pipeline"          # flag beats file
    assert data["face"]["name"] == "none"               # env beats file
    assert data["face"]["fallback"] == ["heygen"]       # file beats default
    assert data["face"]["options"]["heygen"] == {"avatar_id": "from-file",
                                                 "video_quality": "high"}
    assert data["livekit"]["url"] == "wss://example.livekit.cloud"
    assert "env-key-value" not in result.stdout and "file-secret-value" not in result.stdout
    assert data["livekit"]["api_key"] == "**********"


def test_plugins_json_lists_parts_with_env_status(cli, tmp_path: Path) -> None:
    result = cli("plugins", "--json", "--verbose", env={"OPENAI_API_KEY": "sk-test"},
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    parts = {(p["kind"], p["name"]): p for p in json.loads(result.stdout)["parts"]}
    assert parts[("brain", "realtime")]["env"] == {"OPENAI_API_KEY": True}
    assert parts[("face", "hedra")]["available"] is False
    assert "properties" in parts[("face", "heygen")]["options"]
    assert "sk-test" not in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--verbose"]])
def test_fast_commands_succeed(cli, args: list[str], tmp_path: Path) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_doctor_exits_1_with_a_verdict_when_checks_fail(cli, tmp_path: Path) -> None:
    result = cli("doctor", "--brain", "realtime", "--face", "none", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "OPENAI_API_KEY" in result.stdout and "verdict" in result.stdout
    assert "Traceback" not in result.stderr


def test_no_plugin_works_after_the_subcommand(cli, plugin_dir, tmp_path: Path) -> None:
    broken = "import this_module_does_not_exist_anywhere\n"
    plugin_dir("avatarkit-broken", {"ak_broken": broken}, {"broken": "ak_broken"})
    for args in (["--no-plugin", "avatarkit-broken", "plugins"],
                 ["plugins", "--no-plugin", "avatarkit-broken"],
                 ["plugins", "--no-plugin=avatarkit-broken", "--json"],
                 ["config", "show", "--no-plugin", "avatarkit-broken"]):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "avatarkit-broken" not in result.stderr + result.stdout, args
    result = cli("plugins", cwd=tmp_path)  # not blocked: listed as a problem
    assert "avatarkit-broken" in result.stdout


def test_config_show_validates_options_like_run(cli, tmp_path: Path) -> None:
    assert_usage_error(cli("config", "show", "--brain-opt", "temprature=0.5", cwd=tmp_path),
                       "temprature", "unknown option")
    assert_usage_error(cli("config", "show", "--face-opt", "video_quality=ultra", "--face",
                           "heygen", cwd=tmp_path), "video_quality")
    assert_usage_error(cli("config", "show", "--face", "heygn", cwd=tmp_path),
                       "did you mean 'heygen'")
    # credentials are not needed just to look at the configuration
    result = cli("config", "show", "--brain", "realtime", "--face", "heygen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
