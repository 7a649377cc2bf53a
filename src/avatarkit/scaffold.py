"""``avatarkit plugin new``: write a plugin package that works and passes the kit."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import UsageError

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
KINDS = ("face", "brain")


def scaffold(name: str, kind: str, directory: Path | None = None) -> Path:
    """Write the package of plugin ``name`` (a face or a brain) into ``directory``
    (default ``./avatarkit-NAME``); returns it. Refuses a bad name or an existing path."""
    from .scaffold_brain import BRAIN_MODULE, BRAIN_TESTS, PYPROJECT, README
    from .scaffold_face import FACE_MODULE, FACE_TESTS

    if not NAME.match(name) or len(name) > 40:
        raise UsageError(f"plugin name {name!r} is not valid",
                         hint="use lower-case letters, digits and single hyphens, starting "
                         "with a letter (for example: my-face)")
    if kind not in KINDS:
        raise UsageError(f"--kind must be face or brain (got {kind!r})")
    target = Path(directory) if directory is not None else Path(f"avatarkit-{name}")
    if target.exists():
        raise UsageError(f"{target} already exists", hint="pick another --dir, or remove it")
    module = "avatarkit_" + name.replace("-", "_")
    cls = "".join(p.capitalize() for p in name.split("-")) + kind.capitalize()
    values = {
        "name": name, "module": module, "cls": cls, "kind": kind, "dist": f"avatarkit-{name}",
        "env": name.replace("-", "_").upper() + "_API_KEY",
        "summary": (f"The {name} face, rendered on this machine." if kind == "face" else
                    f"The {name} brain: STT, LLM, TTS on an OpenAI-compatible server."),
        "deps": "" if kind == "face" else
        ', "livekit-plugins-openai~=1.8", "livekit-plugins-silero~=1.8"',
    }
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README,
        f"{module}.py": FACE_MODULE if kind == "face" else BRAIN_MODULE,
        "tests/test_contract.py": FACE_TESTS if kind == "face" else BRAIN_TESTS,
    }
    for rel, template in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(template, values))
    return target


def _fill(template: str, values: dict[str, str]) -> str:
    """``{key}`` -> value; ``{{``/``}}`` -> a literal brace."""
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.replace("{{", "{").replace("}}", "}")
