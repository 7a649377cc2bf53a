"""Write each provider plugin's README and the faces table of docs/parts.md from the faces
themselves (options, env vars, cap, stop call), so the docs cannot drift from the code.

    python scripts/provider_docs.py           # rewrite them
    python scripts/provider_docs.py --check   # exit 1 if any is out of date (a test runs it)
    python scripts/provider_docs.py --loc     # lines of code per plugin module
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARTS = ROOT / "docs" / "parts.md"
TABLE_START = "<!-- faces table: scripts/provider_docs.py -->"
TABLE_END = "<!-- end faces table -->"
ENV = re.compile(r"\b[A-Z][A-Z0-9]+_[A-Z0-9_]+\b")


def faces() -> list[Any]:
    from avatarkit.catalog import PROVIDER_FACES
    from avatarkit.registry import Registry

    registry = Registry.load(environ={})
    return [registry.face(name) for name in sorted({"heygen", *PROVIDER_FACES})]


def cap_text(cls: Any) -> str:
    if not cls.rotates:
        return "none (no rotation: " + ("fixed identities" if cls.name == "avatartalk"
                                        else "see below") + ")"
    parts = [f"{cls.max_session_s:g} s" if cls.max_session_s else "none known"]
    if cls.duration_option:
        parts = [f"`{cls.duration_option}`" + (f" (<= {cls.max_session_s:g} s)"
                                               if cls.max_session_s else " when set")]
    if cls.name == "heygen":
        parts.append("(sandbox: 60 s)")
    return " ".join(parts)


def env_vars(cls: Any) -> list[str]:
    found = list(cls.env)
    for field in cls.Options.model_fields.values():
        found += ENV.findall(field.description or "")
    return list(dict.fromkeys(found))


def options_rows(cls: Any) -> list[str]:
    from avatarkit.faces.avatar_session import BASE_OPTIONS

    rows = []
    for name, field in cls.Options.model_fields.items():
        if name in BASE_OPTIONS:
            continue
        default = "required" if field.is_required() else (
            "unset" if field.default is None else f"`{field.default}`")
        description = field.description or ""
        if name in cls.required and cls.required[name] not in description:
            description += f" Else `{cls.required[name]}`."
        rows.append(f"| `{name}` | {default} | {description} |")
    return rows


def readme(cls: Any, module: Any) -> str:
    dist = f"avatarkit-{cls.name}"
    doc = (module.__doc__ or "").strip().split("\n", 1)
    env = "\n".join(f"| `{var}` | {'yes' if var in cls.env else 'no'} |" for var in env_vars(cls))
    return f"""# {dist}

{doc[0].replace(f'The ``{cls.name}`` face: ', 'An avatarkit face for ').replace('``', '`')}

{doc[1].strip().replace('``', '`') if len(doc) > 1 else ''}

```bash
pip install {dist}          # from a checkout: pip install -e plugins/{dist}
avatarkit plugins            # lists: face {cls.name} ... {dist}
avatarkit run --face {cls.name} --fallback local
```

## Environment

| variable | needed |
|---|---|
{env}

Variables marked "no" are fallbacks for an option (see below). The LiveKit ones mint the
avatar's join token.

## Options (`--face-opt KEY=VALUE` or `[face.options.{cls.name}]` in `avatarkit.toml`)

| option | default | meaning |
|---|---|---|
{chr(10).join(options_rows(cls))}

Plus the options of every cloud face (`join_timeout`, `video_stall_timeout`,
`avatar_identity`, `max_session_s`, `rotate_lead_s`: see avatarkit's `docs/parts.md`). All are
validated before anything connects (an unknown key exits 2 with one message).

## Session end and cap

- **Stop call**: {cls.stop_call}. avatarkit ends the session on every exit path (normal end,
  failed or cancelled start, avatar died, worker shutdown), exactly once, and removes the
  avatar participant (also one that joins late, after its session ended).
- **Session cap**: {cap_text(cls)}. Before the cap avatarkit starts a fresh session and swaps
  it in between replies (`max_session_s`; `0` turns rotation off).

Tested against a stand-in of the provider's API in a real LiveKit room
(`tests/test_provider_contract.py` in the avatarkit repository).
"""


def table() -> str:
    rows = ["| face | install | stop call | session cap (rotated before) |", "|---|---|---|---|"]
    for cls in faces():
        install = "built in" if cls.name == "heygen" else f"`pip install avatarkit-{cls.name}`"
        rows.append(f"| `{cls.name}` | {install} | {cls.stop_call} | {cap_text(cls)} |")
    return "\n".join([TABLE_START, *rows, TABLE_END])


def expected() -> dict[Path, str]:
    import importlib

    out: dict[Path, str] = {}
    for cls in faces():
        if cls.name == "heygen":
            continue
        out[ROOT / "plugins" / f"avatarkit-{cls.name}" / "README.md"] = readme(
            cls, importlib.import_module(cls.__module__))
    text = PARTS.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    out[PARTS] = text[:start] + table() + text[end:]
    return out


def main(argv: list[str]) -> int:
    if "--loc" in argv:
        for path in sorted(ROOT.glob("plugins/*/avatarkit_*.py")):
            print(f"{path.parent.name:24} {len(path.read_text().splitlines()):4}")
        return 0
    stale = [path for path, text in expected().items()
             if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run scripts/provider_docs.py)")
        return 1 if stale else 0
    for path, text in expected().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
