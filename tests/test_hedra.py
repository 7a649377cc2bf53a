"""The hedra face: listed, refused with a clear message, the dead plugin never reached."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from avatarkit.errors import FaceStartError, PartUnavailableError
from avatarkit.faces.hedra import UNAVAILABLE, HedraFace
from standins.room import RoomTransport, StandinRoom


def test_hedra_is_refused_at_validation_time() -> None:
    opts = HedraFace.parse_options({"avatar_id": "old-config-value", "api_key": "k"})
    with pytest.raises(PartUnavailableError) as err:
        HedraFace.check_usable(opts, environ={})
    assert err.value.exit_code == 2
    for text in ("Hedra shut down", "--face heygen", "--face local", "--face none"):
        assert text in err.value.message


async def test_hedra_start_refuses_without_touching_the_plugin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins import hedra

    reached: list[object] = []
    monkeypatch.setattr(hedra.AvatarSession, "__init__",
                        lambda self, **kw: reached.append(kw))
    face = HedraFace({})
    with pytest.raises(FaceStartError) as err:
        await face.start(object(), RoomTransport(StandinRoom()))
    assert UNAVAILABLE in err.value.message
    assert reached == []
    await face.aclose()
    await face.aclose()


def test_installed_hedra_plugin_really_refuses() -> None:
    """Why the face exists: livekit-plugins-hedra >= 1.7.1 raises in the constructor."""
    from livekit.plugins import hedra

    with pytest.raises(hedra.HedraException, match="disabled"):
        hedra.AvatarSession(avatar_id="x")


_BLOCK_HEDRA = textwrap.dedent("""
    import sys

    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "livekit.plugins.hedra":
                sys.stderr.write("HEDRA PLUGIN IMPORTED\\n")
                raise ImportError("blocked by test")
            return None

    sys.meta_path.insert(0, _Block())
    from avatarkit.cli import main
    main(sys.argv[1:])
""")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "AVATARKIT_LOAD_PLUGINS": ""}
    env.pop("AVATARKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-c", _BLOCK_HEDRA, *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_run_with_hedra_exits_2_with_the_reason_and_no_traceback() -> None:
    proc = _cli("run", "--brain", "realtime", "--face", "hedra")
    assert proc.returncode == 2, proc.stderr
    assert "Hedra shut down its realtime avatar service" in proc.stderr
    assert "--face heygen" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "HEDRA PLUGIN IMPORTED" not in proc.stderr


def test_cli_plugins_lists_hedra_as_unavailable() -> None:
    proc = _cli("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    rows = [r for r in json.loads(proc.stdout)["parts"] if r["name"] == "hedra"]
    assert len(rows) == 1
    assert rows[0]["available"] is False
    assert rows[0]["unavailable_reason"] == UNAVAILABLE
    assert "HEDRA PLUGIN IMPORTED" not in proc.stderr
