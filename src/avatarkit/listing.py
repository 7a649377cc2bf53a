"""Describing parts for ``avatarkit plugins`` and config for ``avatarkit config show``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the table of a cached listing needs no registry (nor pydantic)
    from .registry import PartInfo, Registry


def describe_part(info: PartInfo, environ: Mapping[str, str], *, verbose: bool) -> dict[str, Any]:
    """One part as a JSON-safe dict (env vars with whether each is set, never the value)."""
    cls = info.cls
    row: dict[str, Any] = {
        "kind": info.kind,
        "name": info.name,
        "summary": cls.summary,
        "distribution": info.distribution,
        "version": info.version,
        "env": {var: bool(environ.get(var)) for var in cls.env},
        "available": cls.unavailable is None,
        "unavailable_reason": cls.unavailable,
    }
    capabilities = getattr(cls, "capabilities", None)
    if callable(capabilities):
        row["capabilities"] = capabilities()
    if verbose:
        row["options"] = cls.Options.model_json_schema()
    return row


def secret_fields(registry: Registry) -> dict[tuple[str, str], frozenset[str]]:
    """``(kind, name) -> the part's credential options``, for masking a configuration."""
    return {(info.kind, info.name): info.cls.secret_options() for info in registry.all_parts()}


def describe_parts(registry: Registry, environ: Mapping[str, str], *,
                   verbose: bool = False) -> list[dict[str, Any]]:
    return [describe_part(info, environ, verbose=verbose) for info in registry.all_parts()]


def render_parts(rows: list[dict[str, Any]], *, verbose: bool = False) -> str:
    """A table of the parts; under each summary what it needs and, with ``verbose``, its
    options."""
    from rich.text import Text

    from .tables import new_table, render

    table = new_table("KIND", "NAME", "STATUS", "FROM", "SUMMARY")
    styles = {"ok": "green", "needs env": "yellow", "unavailable": "red"}
    for row in rows:
        status = "ok" if row["available"] else "unavailable"
        if row["available"] and not all(row["env"].values()):
            status = "needs env"
        notes = []
        if row["env"]:
            notes.append("needs: " + ", ".join(
                f"{var} ({'set' if ok else 'NOT SET'})" for var, ok in row["env"].items()))
        if row.get("unavailable_reason"):
            notes.append(f"unavailable: {row['unavailable_reason']}")
        if verbose and "options" in row:
            notes.extend(_render_options(row["options"]))
        summary = Text(row["summary"])
        for note in notes:
            summary.append("\n" + note, style="dim")
        table.add_row(row["kind"], row["name"], Text(status, style=styles[status]),
                      f"{row['distribution']} {row['version']}", summary)
    return render(table)


def _render_options(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties", {})
    if not props:
        return ["(no options)"]
    out = []
    for name, spec in props.items():
        kind = spec.get("type") or " | ".join(
            str(s.get("type", s.get("$ref", "?")).split("/")[-1]) for s in spec.get("anyOf", []))
        if "enum" in spec:
            kind = " | ".join(map(str, spec["enum"]))
        default = f" = {json.dumps(spec['default'])}" if "default" in spec else ""
        desc = f"  # {spec['description']}" if spec.get("description") else ""
        out.append(f"  {name}: {kind}{default}{desc}")
    return out


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the config dump (tables, scalars, lists; nulls commented)."""
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif value is None:
            scalars.append(f"# {key} = (not set)")
        else:
            scalars.append(f"{key} = {json.dumps(value)}")
    out = []
    if prefix and (scalars or not tables):
        out.append(f"[{prefix}]")
    out.extend(scalars)
    for key, value in tables:
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        out.append("")
        out.append(to_toml(value, name))
    return "\n".join(out).strip("\n")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)
