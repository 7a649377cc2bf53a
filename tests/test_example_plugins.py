"""The example plugins (examples/plugin-sparkle, examples/plugin-own-renderer) use the
public API only and pass avatarkit's kit, as their own tests do."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PLUGINS = {"plugin-sparkle": "avatarkit_sparkle",
           "plugin-own-renderer": "avatarkit_own_renderer"}
PUBLIC = {"avatarkit", "avatarkit.plugin", "avatarkit.testing"}


@pytest.mark.parametrize("example", sorted(PLUGINS))
def test_example_imports_the_public_api_only(example: str) -> None:
    for path in (EXAMPLES / example).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("avatarkit"):
                assert node.module in PUBLIC or node.module == PLUGINS[example], (path, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("avatarkit."):
                        assert alias.name in PUBLIC, (path, alias.name)


@pytest.mark.local_extra
@pytest.mark.parametrize("example", sorted(PLUGINS))
def test_example_passes_the_kit(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = EXAMPLES / example
    env_path = f"{root}:{Path(__file__).resolve().parents[1] / 'src'}"
    monkeypatch.setenv("PYTHONPATH", env_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(root), str(root / "tests")], cwd=root,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "5 passed" in out.stdout


def _code(text: str) -> tuple[list[str], list[str]]:
    """A module's imports (in any order) and the rest of its code, docstring left out."""
    body = ast.parse(text).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    imports = (ast.Import, ast.ImportFrom)
    return (sorted(ast.dump(n) for n in body if isinstance(n, imports)),
            [ast.dump(n) for n in body if not isinstance(n, imports)])


def test_the_own_renderer_example_is_what_plugin_new_writes(tmp_path: Path) -> None:
    """examples/plugin-own-renderer is `avatarkit plugin new own-renderer --kind face` with its
    own summary and module docstring (and its imports sorted by this repo's ruff): the
    template and the example cannot drift apart."""
    from avatarkit.scaffold import scaffold

    example = EXAMPLES / "plugin-own-renderer"
    made = scaffold("own-renderer", "face", tmp_path / "made")
    summary = "Template: a custom face on your own GPU (replace BarGenerator._render)."
    files = sorted(p.relative_to(made) for p in made.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(example) for p in example.rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts)
    for rel in files:
        ours = (made / rel).read_text().replace(
            "The own-renderer face, rendered on this machine.", summary)
        theirs = (example / rel).read_text()
        if rel.suffix == ".py":
            assert _code(ours) == _code(theirs), rel
        else:
            assert ours == theirs, rel
