"""What ``avatarkit doctor`` reports, as a part declares it (no heavy imports).

A part's contract with ``doctor`` (see :class:`avatarkit.part.Part`): the Python modules it
needs (``required_modules``), local checks (``doctor_checks``: files, binaries, models) and
reachability checks (``check_reachable``: its own servers), each a list of :class:`Check`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass
from typing import Literal

__all__ = ["Check", "Status", "asset_check", "module_available"]

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: ``status`` is ``ok``, ``warn`` or ``fail``;
    ``detail`` is one line and never holds a secret's value."""

    name: str
    status: Status
    detail: str


def module_available(name: str) -> bool:
    """Whether ``name`` can be imported, without importing it (parents may be imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def asset_check(name: str, module: str, filename: str | None, fix: str) -> Check:
    """``ok`` if the package ``module`` is installed (and holds ``filename``), else ``fail``
    with ``fix`` (how to install it)."""
    spec = None
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(module)
    if spec is None:
        return Check(name, "fail", f"not installed: {fix}")
    if filename:
        dirs = list(spec.submodule_search_locations or [])
        if not any(os.path.exists(os.path.join(d, filename)) for d in dirs):
            return Check(name, "fail", f"{module} is installed but {filename} is missing")
        return Check(name, "ok", filename)
    return Check(name, "ok", f"{module} installed")
