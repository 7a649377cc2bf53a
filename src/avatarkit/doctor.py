"""``avatarkit doctor``: can this brain and these faces run here, and if not, why.

Checks, each ``ok`` / ``warn`` / ``fail`` with a one-line detail (never a secret's value):

- the part is available (not shut down upstream) and its options are valid;
- the Python modules it needs are installed (``importlib.util.find_spec``: nothing is
  imported, so doctor stays fast);
- every environment variable it needs is set;
- the LiveKit URL answers (TCP connect, TLS handshake for ``wss://``/``https://``);
- every ``base_url`` option answers ``GET {base_url}/models`` (OpenAI-compatible servers),
  other ``*_url`` options accept a TCP connection;
- what the part declares itself (:class:`avatarkit.part.Part`): ``required_modules``,
  ``doctor_checks`` (local files, binaries, models) and ``check_reachable`` (its servers).

Nothing here knows a part by name: a plugin's part is checked exactly like a built-in one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel

from .checks import Check, Status, module_available
from .errors import AvatarkitError
from .interruptible import run_interruptible
from .redact import redact_url

if TYPE_CHECKING:
    from .config import AvatarkitConfig
    from .registry import Registry

TIMEOUT = 2.0
LIVEKIT_CHECK = "LiveKit server"
LIVEKIT_VARS = "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET"
_OFFLINE_ONLY = (f"not set: `avatarkit run` needs {LIVEKIT_VARS}; `demo` and `playground` "
                 "run without LiveKit")

@dataclass(frozen=True)
class Verdict:
    """The overall answer: ``exit_code`` 0 when nothing failed (warnings allowed), else 1."""

    status: Status
    text: str
    exit_code: int


async def run_checks(
    *,
    brain_cls: type[Any],
    brain_options: BaseModel | Mapping[str, Any] | None,
    face_classes_with_options: Sequence[tuple[type[Any], BaseModel | Mapping[str, Any] | None]],
    livekit_url: str | None,
    environ: Mapping[str, str],
    needs_livekit: bool | None = None,
) -> list[Check]:
    """Run every check for this brain and face chain; never raises for a failed check.

    A missing LiveKit URL fails when ``needs_livekit`` is true, or when it is ``None`` and
    a part of the chain needs LiveKit (a cloud avatar joining the room); otherwise it is a
    warning: the chain is ready for ``demo``/``playground``, and ``run`` needs LiveKit.
    Network checks run concurrently, ~2 s timeout each.
    """
    checks: list[Check] = []
    pending: list[Any] = []
    parts = [(brain_cls, brain_options), *face_classes_with_options]
    part_needs_livekit = False
    for cls, raw in parts:
        label = f"{getattr(cls, 'kind', 'part')} {getattr(cls, 'name', cls.__name__)}"
        options, part_checks = _check_part(cls, raw, label, environ)
        checks.extend(part_checks)
        if options is None:
            continue
        part_needs_livekit |= any(v.startswith("LIVEKIT_") for v in cls.required_env(options))
        for field, url in _url_options(options):
            if field == "base_url":
                model = getattr(options, "llm_model", None) or getattr(options, "model", None)
                pending.append(check_models_endpoint(f"{label}: {field}", url,
                                                     expect_model=model))
            else:
                pending.append(check_tcp(f"{label}: {field}", url))
        own_checks = getattr(cls, "doctor_checks", None)
        if callable(own_checks):
            checks.extend(_declared(label, own_checks, options))
        reachable = getattr(cls, "check_reachable", None)
        if callable(reachable):
            pending.append(_reachable(label, reachable, options))

    if needs_livekit is None:
        needs_livekit = part_needs_livekit
    if livekit_url:
        pending.insert(0, check_tcp(LIVEKIT_CHECK, livekit_url))
    elif needs_livekit:
        checks.insert(0, Check(LIVEKIT_CHECK, "fail",
                               f"not set: this face chain joins a LiveKit room ({LIVEKIT_VARS})"))
    else:
        checks.insert(0, Check(LIVEKIT_CHECK, "warn", _OFFLINE_ONLY))
    results = await asyncio.gather(*pending)
    return [*checks, *(c for r in results for c in (r if isinstance(r, list) else [r]))]


def run_checks_sync(**kwargs: Any) -> list[Check]:
    """:func:`run_checks` for synchronous callers (the CLI)."""
    return run_interruptible(run_checks(**kwargs))


async def run_checks_for_config(
    config: AvatarkitConfig,
    registry: Registry,
    environ: Mapping[str, str],
    *,
    needs_livekit: bool | None = None,
) -> list[Check]:
    """:func:`run_checks` for a loaded config: its brain and its whole face chain."""
    checks: list[Check] = []
    faces: list[tuple[type[Any], Any]] = []
    try:
        brain_cls: type[Any] = registry.brain(config.brain.name)
    except AvatarkitError as exc:
        return [Check(f"brain {config.brain.name}", "fail", exc.message)]
    for name in config.face.chain():
        try:
            faces.append((registry.face(name), config.face.options_for(name)))
        except AvatarkitError as exc:
            checks.append(Check(f"face {name}", "fail", exc.message))
    url = config.livekit.url or environ.get("LIVEKIT_URL")
    checks.extend(await run_checks(
        brain_cls=brain_cls, brain_options=config.brain.selected_options(),
        face_classes_with_options=faces, livekit_url=url, environ=environ,
        needs_livekit=needs_livekit,
    ))
    if config.agent.use:
        checks.append(_check_agent(config.agent.use))
    return checks


def _check_agent(path: str) -> Check:
    """The user's ``[agent] use``: imports, makes an Agent, its tools have schemas."""
    from .user_agent import check_agent

    try:
        check_agent(path)
    except AvatarkitError as exc:
        return Check(f"agent {path}", "fail", exc.message)
    return Check(f"agent {path}", "ok", "an Agent; its function tools have valid schemas")


def doctor_for_config(
    config: AvatarkitConfig,
    registry: Registry,
    *,
    echo: Callable[[str], Any] = print,
    environ: Mapping[str, str] | None = None,
    needs_livekit: bool | None = None,
) -> bool:
    """What ``avatarkit doctor`` runs: check, print the table and verdict, True if usable.

    ``needs_livekit``: see :func:`run_checks` (``None``: decided by the face chain).
    """
    environ = os.environ if environ is None else environ
    checks = run_interruptible(run_checks_for_config(config, registry, environ,
                                                     needs_livekit=needs_livekit))
    echo(render_table(checks))
    return verdict(checks).exit_code == 0


def verdict(checks: Iterable[Check]) -> Verdict:
    """``fail`` if any check failed, ``warn`` if any warned, else ``ok``."""
    checks = list(checks)
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return Verdict("fail", "not ready: fix the failed checks above", 1)
    offline = any(c.name == LIVEKIT_CHECK and c.detail == _OFFLINE_ONLY for c in checks)
    others = [c for c in checks if c.status == "warn" and c.detail != _OFFLINE_ONLY]
    if offline:
        return Verdict("warn", "ready for `avatarkit demo` and `avatarkit playground`"
                       + (", with warnings" if others else "")
                       + f"; `avatarkit run` needs LiveKit: set {LIVEKIT_VARS}", 0)
    if "warn" in statuses:
        return Verdict("warn", "ready, with warnings", 0)
    return Verdict("ok", "ready", 0)


def render_table(checks: Sequence[Check]) -> str:
    """A table (status, check, detail) followed by the verdict line."""
    from rich.text import Text

    from .tables import new_table, render

    marks = {"ok": ("ok", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "bold red")}
    table = new_table("status", "check", "detail")
    for c in checks:
        mark, style = marks[c.status]
        table.add_row(Text(mark, style=style), c.name, c.detail)
    return f"{render(table)}\n\nverdict: {verdict(checks).text}"


# -- part checks ----------------------------------------------------------------------------


def _check_part(
    cls: type[Any], raw: Any, label: str, environ: Mapping[str, str]
) -> tuple[Any, list[Check]]:
    checks: list[Check] = []
    reason = getattr(cls, "unavailable", None)
    if reason:
        return None, [Check(label, "fail", f"unavailable: {reason}")]
    try:
        options = cls.parse_options(raw)
    except AvatarkitError as exc:
        return None, [Check(f"{label}: options", "fail", exc.message.replace("\n", " "))]
    checks.append(Check(f"{label}: options", "ok", "valid"))

    modules = part_modules(cls, options)
    missing = [m for m in modules if not module_available(m)]
    if missing:
        checks.append(Check(f"{label}: packages", "fail", "missing modules: " + ", ".join(
            missing) + " (pip install the part's dependencies)"))
    else:
        checks.append(Check(f"{label}: packages", "ok",
                            f"{len(modules)} module(s) installed" if modules else "none needed"))

    for var in cls.required_env(options):
        if environ.get(var):
            checks.append(Check(f"{label}: {var}", "ok", "set"))
        else:
            checks.append(Check(f"{label}: {var}", "fail", f"not set: export {var}=..."))
    return options, checks


def part_modules(cls: type[Any], options: Any) -> tuple[str, ...]:
    """The Python modules a part declares it needs (``required_modules`` / ``requires``)."""
    declared = getattr(cls, "required_modules", None)
    if callable(declared):
        return tuple(declared(options))
    return tuple(getattr(cls, "requires", ()) or ())


def _declared(label: str, hook: Callable[[Any], Any], options: Any) -> list[Check]:
    try:
        return list(hook(options))
    except Exception as exc:  # noqa: BLE001 - a part's own check must not break doctor
        return [Check(f"{label}: checks", "fail", f"the part's doctor_checks failed: {exc}")]


async def _reachable(label: str, hook: Callable[..., Any], options: Any) -> list[Check]:
    try:
        return list(await asyncio.wait_for(hook(options, TIMEOUT), TIMEOUT + 1))
    except asyncio.TimeoutError:
        return [Check(f"{label}: reachable", "fail", f"no answer within {TIMEOUT:g} s")]
    except Exception as exc:  # noqa: BLE001 - a part's own check must not break doctor
        return [Check(f"{label}: reachable", "fail", f"check failed: {exc}")]


def _url_options(options: Any) -> list[tuple[str, str]]:
    if not isinstance(options, BaseModel):
        return []
    found = []
    for field, value in options:
        if isinstance(value, str) and value and (field == "base_url" or field.endswith("_url")):
            found.append((field, value))
    return found


# -- network checks -------------------------------------------------------------------------


def host_port(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) for ws://, wss://, http://, https:// URLs (default ports 80/443)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme not in ("ws", "wss", "http", "https") or not parsed.hostname:
        raise ValueError(f"not a ws://, wss://, http:// or https:// URL: {redact_url(url)!r}")
    tls = scheme in ("wss", "https")
    return parsed.hostname, parsed.port or (443 if tls else 80), tls


async def check_tcp(name: str, url: str, timeout: float = TIMEOUT) -> Check:
    """Connect to the URL's host:port (and complete TLS for secure schemes)."""
    try:
        host, port, tls = host_port(url)
    except ValueError as exc:
        return Check(name, "fail", str(exc))
    t0 = time.perf_counter()
    try:
        ctx = ssl.create_default_context() if tls else None
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=host if tls else None),
            timeout,
        )
    except asyncio.TimeoutError:
        return Check(name, "fail", f"{host}:{port} did not answer within {timeout:g} s")
    except ssl.SSLError as exc:
        return Check(name, "fail", f"{host}:{port}: TLS failed ({exc.reason or exc})")
    except OSError as exc:
        return Check(name, "fail", f"{host}:{port} unreachable ({exc.strerror or exc})")
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 0.5)
    ms = (time.perf_counter() - t0) * 1000
    return Check(name, "ok", f"{host}:{port} reachable{' (TLS)' if tls else ''} in {ms:.0f} ms")


async def check_models_endpoint(
    name: str, base_url: str, timeout: float = TIMEOUT, *, expect_model: str | None = None
) -> Check:
    """``GET {base_url}/models`` of an OpenAI-compatible server (and ``expect_model`` served)."""
    import aiohttp

    target = base_url.rstrip("/") + "/models"
    url = redact_url(target)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                http.get(target) as resp:
            if resp.status in (401, 403):
                return Check(name, "warn", f"{url} answered {resp.status}: check the API key")
            if resp.status != 200:
                return Check(name, "fail", f"{url} answered HTTP {resp.status}")
            try:
                data = await resp.json(content_type=None)
                ids = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
            except (ValueError, AttributeError, aiohttp.ContentTypeError):
                return Check(name, "warn", f"{url} answered 200 but not an OpenAI model list")
    except asyncio.TimeoutError:
        return Check(name, "fail", f"{url} did not answer within {timeout:g} s")
    except aiohttp.ClientError as exc:
        return Check(name, "fail", f"{url} unreachable ({type(exc).__name__}: {exc})")
    shown = ", ".join(str(i) for i in ids[:3]) + (" ..." if len(ids) > 3 else "")
    if expect_model and ids and expect_model not in ids:
        return Check(name, "warn", f"{url} does not serve model {expect_model!r} "
                                   f"(it serves: {shown})")
    return Check(name, "ok", f"{url}: {len(ids)} model(s){': ' + shown if ids else ''}")
