"""Bad ``--agent`` / ``[agent] use``: one message naming the problem and the fix, exit 2,
before anything connects, for every command that runs sessions. In-process
(``avatarkit.cli.main``) with the module next to the working directory, as a user has it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import cli_runner

AGENTS = textwrap.dedent('''
    from livekit.agents import Agent, RunContext, function_tool

    NOT_AN_AGENT = "support"


    class Opaque:
        pass


    class Support(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="You help with orders.")

        @function_tool
        async def lookup_order(self, ctx: RunContext, order_id: str) -> str:
            """Look up an order.

            Args:
                order_id: the order number
            """
            return "shipped"


    class BrokenTool(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="x")

        @function_tool
        async def lookup(self, when: Opaque) -> str:
            """Look something up."""
            return "x"


    def returns_text():
        return "an agent"


    def needs_args(name):
        return Support()


    SHARED = Support()
''')

COMMANDS = [
    ("run",), ("demo", "--ask", "hello"), ("playground", "--port", "0"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """A user's project directory holding ``ak_bad_agents.py``, as the working directory."""
    (tmp_path / "ak_bad_agents.py").write_text(AGENTS)
    (tmp_path / "ak_broken_import.py").write_text("import ak_not_installed_dependency\n")
    (tmp_path / "ak_raising.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVATARKIT_LOAD_PLUGINS", "")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-used")
    return tmp_path


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = cli_runner.run_cli(capsys, *args)
    assert not result.network, result.network
    assert result.returncode == 2, (result.returncode, result.stderr)
    err = result.stderr
    assert "Traceback" not in err and "unexpected error" not in err
    assert err.count("avatarkit: error:") == 1, err
    return err


CASES = [
    ("ak_missing_module:Support", ["no module named 'ak_missing_module'", "hint:"]),
    ("ak_bad_agents:Nope", ["has no 'Nope'", "Support"]),
    ("ak_bad_agents:NOT_AN_AGENT", ["is a str, not an Agent subclass"]),
    ("ak_bad_agents:returns_text", ["returned a str, not a livekit.agents.Agent"]),
    ("ak_bad_agents:needs_args", ["could not be created", "no arguments"]),
    ("ak_bad_agents:SHARED", ["is an Agent instance", "fresh agent per session"]),
    ("ak_bad_agents:BrokenTool", ["function tool 'lookup' has no valid JSON schema",
                                  "Opaque", "JSON-compatible type"]),
    ("ak_broken_import:Agent", ["importing 'ak_broken_import' failed",
                                "ak_not_installed_dependency"]),
    ("ak_raising:Agent", ["importing 'ak_raising' failed", "boom at import"]),
    ("ak_bad_agents", ["must be an import path like 'mypkg.agents:Support'"]),
]


@pytest.mark.parametrize(("path", "needles"), CASES, ids=[c[0] for c in CASES])
def test_bad_agent_flag_is_refused_before_connecting(capsys, project: Path, path: str,
                                                    needles: list[str]) -> None:
    err = refused(capsys, "demo", "--brain", "realtime", "--face", "none", "--agent", path)
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_session_command_checks_the_agent(capsys, project: Path,
                                                command: tuple[str, ...]) -> None:
    err = refused(capsys, *command, "--brain", "realtime", "--face", "none",
                  "--agent", "ak_bad_agents:BrokenTool")
    assert "function tool 'lookup'" in err


@pytest.mark.parametrize("toml", [
    'agent = "ak_bad_agents:Nope"\n',
    '[agent]\nuse = "ak_bad_agents:Nope"\ngreeting = "Hi"\n',
])
def test_bad_agent_in_the_config_file_is_refused(capsys, project: Path, toml: str) -> None:
    (project / "avatarkit.toml").write_text(toml + '[brain]\nname = "realtime"\n'
                                            '[face]\nname = "none"\n')
    assert "has no 'Nope'" in refused(capsys, "run")


def test_a_good_agent_passes_validation(capsys, project: Path) -> None:
    """The same checks accept a real agent: ``config show`` lists it and ``doctor``-free
    validation (``make_plan``) builds it once without connecting."""
    from avatarkit.composer import make_plan
    from avatarkit.config import load_config

    config = load_config(agent="ak_bad_agents:Support", brain="realtime", face="none")
    plan = make_plan(config)
    assert plan.config.agent.use == "ak_bad_agents:Support"
    result = cli_runner.run_cli(capsys, "config", "show", "--agent", "ak_bad_agents:Support",
                                "--no-face-tools")
    assert result.returncode == 0, result.stderr
    assert "ak_bad_agents:Support" in result.stdout


def test_doctor_checks_the_agent(capsys, project: Path) -> None:
    bad = cli_runner.run_cli(capsys, "doctor", "--brain", "local", "--face", "none",
                             "--agent", "ak_bad_agents:BrokenTool")
    assert bad.returncode != 0 and "function tool 'lookup'" in bad.stdout + bad.stderr
    good = cli_runner.run_cli(capsys, "doctor", "--brain", "local", "--face", "none",
                              "--agent", "ak_bad_agents:Support")
    assert "agent ak_bad_agents:Support" in good.stdout and "valid schemas" in good.stdout
