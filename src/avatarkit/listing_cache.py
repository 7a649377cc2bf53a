"""The plugin listing of ``avatarkit plugins``, cached so that it is never stale.

Building the listing imports every plugin, pluggy and pydantic (a few hundred ms with the
first-party plugins installed); reading it back is one JSON file and a few hundred
``stat`` calls. A cached listing is used only when everything it was built from is as it
was:

- the interpreter, ``sys.path``, ``--verbose``, and the settings that
  choose plugins: ``--no-plugin`` and every ``AVATARKIT_*`` variable (hashed, never stored);
- every ``sys.path`` entry's mtime (installing, upgrading or removing a distribution there
  changes it) and the ``entry_points.txt`` of every distribution in them;
- every module file loaded when it was built (size and mtime): editing a plugin, or
  avatarkit itself, rebuilds it.

Whether each part's environment variables are set is never cached: an entry keeps their
names and :func:`plugin_listing` reads the values afresh. Strict mode
(``AVATARKIT_STRICT_PLUGINS``) bypasses the cache, so a broken plugin still fails there.
The cache is ``$AVATARKIT_CACHE/plugins`` (default ``$XDG_CACHE_HOME/avatarkit``, else
``~/.cache/avatarkit``: the llama wheel cache's root); a directory that cannot be written
only means no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

#: Bump when the shape of a cached listing changes.
FORMAT = 1
#: A listing built from a file changed this recently (ns) is not cached: a second change
#: within the file system's timestamp granularity would leave the same mtime (git's "racy"
#: rule).
RACY_NS = 2_000_000_000
#: A cached listing not rebuilt for this long (s) is removed by the next build: environments
#: that are gone (a deleted virtualenv) leave no files behind for long.
KEEP_S = 30 * 24 * 3600


def cache_root(environ: Mapping[str, str]) -> str:
    """avatarkit's cache directory: ``$AVATARKIT_CACHE``, else ``$XDG_CACHE_HOME/avatarkit``,
    else ``~/.cache/avatarkit`` (``os.path``, not ``pathlib``: cheaper to import)."""
    if environ.get("AVATARKIT_CACHE"):
        return environ["AVATARKIT_CACHE"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "avatarkit")


def cache_file(environ: Mapping[str, str], *, verbose: bool) -> str:
    """This interpreter's cached listing: one file per environment (virtualenv), so that
    two environments never take turns overwriting one file."""
    where = hashlib.sha256(f"{sys.prefix}\0{sys.executable}".encode()).hexdigest()[:16]
    name = f"listing-{where}{'-verbose' if verbose else ''}.json"
    return os.path.join(cache_root(environ), "plugins", name)


def plugin_listing(blocked: Iterable[str], *, verbose: bool,
                   environ: Mapping[str, str]) -> dict[str, Any]:
    """The listing: ``parts`` (rows of :func:`avatarkit.listing.describe_part`), ``problems``
    and ``duplicates`` (as ``plugins --json`` prints them), ``problem_lines`` (as the table
    prints them) and ``faces`` (the installed face names)."""
    blocked = sorted(blocked)
    if environ.get("AVATARKIT_STRICT_PLUGINS", "") not in ("", "0"):
        return _with_env(_build(blocked, verbose=verbose, environ=environ), environ)
    import time

    started = time.time_ns()
    key, newest = _key(blocked, verbose=verbose, environ=environ)
    path = cache_file(environ, verbose=verbose)
    usable = os.path.isabs(path)  # not with no home directory ("~" left as it is)
    listing = _read(path, key) if usable else None
    if listing is None:
        listing = _build(blocked, verbose=verbose, environ=environ)
        files = _module_files()
        if usable and max([newest, *(m for _path, m, _size in files)]) < started - RACY_NS:
            _write(path, {"key": key, "files": files, "listing": listing})
    return _with_env(listing, environ)


def _build(blocked: list[str], *, verbose: bool, environ: Mapping[str, str]) -> dict[str, Any]:
    """The listing from the plugins themselves, with each part's variable names only."""
    from .listing import describe_parts
    from .registry import Registry

    registry = Registry.load(environ=environ, blocked=blocked, warn=lambda _message: None)
    rows = describe_parts(registry, {}, verbose=verbose)
    for row in rows:
        row["env"] = list(row["env"])
    return {
        "parts": rows,
        "problems": [{**p.__dict__, "message": p.text()} for p in registry.problems],
        "duplicates": [{"kind": kind, "name": name, "distributions": dists}
                       for (kind, name), dists in sorted(registry.duplicates.items())],
        "problem_lines": registry.problem_lines(),
        "faces": sorted(registry.faces),
    }


def _with_env(listing: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``listing`` with each part's ``env`` as ``{variable: whether it is set}``, now."""
    for row in listing["parts"]:
        row["env"] = {var: bool(environ.get(var)) for var in row["env"]}
    return listing


def _key(blocked: list[str], *, verbose: bool,
         environ: Mapping[str, str]) -> tuple[str, int]:
    """A SHA-256 of what the listing depends on apart from the module files (avatarkit's
    version is in those: its ``__init__`` and, installed, its ``dist-info``), and the newest
    mtime in it."""
    settings = sorted((k, v) for k, v in environ.items() if k.startswith("AVATARKIT_"))
    parts: list[Any] = [FORMAT, sys.executable, sys.version, sys.path, blocked,
                        verbose, settings]
    newest = -1
    for entry in sys.path:
        stamps = [("", _mtime(entry or ".")), *_entry_points_mtimes(entry or ".")]
        newest = max(newest, *(mtime for _name, mtime in stamps))
        parts.append(stamps)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest(), newest


def _entry_points_mtimes(directory: str) -> list[tuple[str, int]]:
    """``(distribution directory, mtime of its entry_points.txt)`` for every distribution
    installed in ``directory`` (none for a zip or a missing path)."""
    try:
        entries = os.scandir(directory)
    except OSError:
        return []
    found = []
    with entries:
        for entry in entries:
            if entry.name.endswith((".dist-info", ".egg-info")):
                found.append((entry.name, _mtime(os.path.join(entry.path, "entry_points.txt"))))
    return sorted(found)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _module_files() -> list[list[Any]]:
    """``[path, mtime_ns, size]`` of the file of every module loaded in this process."""
    files = []
    for name in sorted(sys.modules):
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str):
            try:
                stat = os.stat(path)
            except OSError:
                continue
            files.append([path, stat.st_mtime_ns, stat.st_size])
    return files


def _unchanged(files: list[list[Any]]) -> bool:
    for path, mtime, size in files:
        try:
            stat = os.stat(path)
        except OSError:
            return False
        if stat.st_mtime_ns != mtime or stat.st_size != size:
            return False
    return True


def _read(path: str, key: str) -> dict[str, Any] | None:
    """The cached listing at ``path`` if it was built under ``key`` from the files as they
    are now; ``None`` otherwise (missing, unreadable, stale)."""
    try:
        with open(path, encoding="utf-8") as file:
            entry = json.load(file)
        if entry["key"] != key or not _unchanged(entry["files"]):
            return None
        listing: dict[str, Any] = entry["listing"]
        return listing
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: str, entry: dict[str, Any]) -> None:
    """Store ``entry`` atomically (a reader sees the old entry or the new, never half)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(entry, file)
        os.replace(tmp, path)
    except OSError:  # a read-only or full disk: no cache, same listing
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    _prune(os.path.dirname(path))


def _prune(directory: str) -> None:
    """Remove the cached listings of ``directory`` not rebuilt for :data:`KEEP_S`."""
    import time

    old = time.time() - KEEP_S
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("listing-") and entry.stat().st_mtime < old:
                    os.unlink(entry.path)
    except OSError:
        pass
