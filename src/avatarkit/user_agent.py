"""The user's own LiveKit ``Agent``: ``[agent] use = "mypkg.agents:Support"``.

The import path names an ``Agent`` subclass or a function returning an ``Agent``; each
session calls it with no arguments for a fresh agent (an ``Agent`` runs one session at a
time). :func:`check_agent` validates it before anything connects: the module imports, the
name is an agent or a factory of one, and every function tool has a JSON schema an LLM can
be given. Each mistake is one :class:`~avatarkit.errors.ConfigError` (exit code 2).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .errors import ConfigError, clip, describe

FORMAT_HINT = ("set [agent] use = \"package.module:Name\" (or --agent package.module:Name), "
               "naming an Agent subclass or a function returning an Agent")


def agent_factory(path: str) -> Callable[[], Any]:
    """The object ``path`` (``module:Name``) names, once it is sure to make agents."""
    from livekit.agents import Agent

    module_name, sep, attr = path.strip().partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"agent {clip(path)} is not an import path like "
                          "'mypkg.agents:Support'", hint=FORMAT_HINT)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules next to avatarkit.toml
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(
                f"agent {clip(path)}: no module named {exc.name!r}",
                hint="run avatarkit from the directory that holds the package, install it "
                "(pip install -e .), or fix the module path before the ':'") from None
        raise ConfigError(f"agent {clip(path)}: importing {module_name!r} failed "
                          f"({describe(exc)})",
                          hint="install what the module needs, then try again") from None
    except Exception as exc:  # noqa: BLE001 - the user's module may raise anything
        raise ConfigError(f"agent {clip(path)}: importing {module_name!r} failed "
                          f"({describe(exc)})",
                          hint="fix the error in that module (run `python -c \"import "
                          f"{module_name}\"` to see it)") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(module) if not n.startswith("_"))[:12]
            raise ConfigError(f"agent {clip(path)}: module {module_name!r} has no "
                              f"{attr!r}", hint=f"names it defines: {', '.join(names)}")
        obj = getattr(obj, part)
    if isinstance(obj, Agent):
        raise ConfigError(
            f"agent {clip(path)} is an Agent instance; avatarkit needs a fresh agent per "
            "session", hint="name the Agent subclass, or a function that returns a new Agent")
    if not callable(obj):
        raise ConfigError(f"agent {clip(path)} is a {type(obj).__name__}, not an Agent "
                          "subclass or a function returning one", hint=FORMAT_HINT)
    return obj


def build_agent(factory: Callable[[], Any], path: str) -> Any:
    """Call ``factory`` for one session's agent; a :class:`ConfigError` if it is not one."""
    from livekit.agents import Agent

    try:
        agent = factory()
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise ConfigError(f"agent {clip(path)} could not be created ({describe(exc)})",
                          hint="avatarkit calls it with no arguments; give every "
                          "parameter a default") from None
    if not isinstance(agent, Agent):
        raise ConfigError(f"agent {clip(path)} returned a {type(agent).__name__}, not a "
                          "livekit.agents.Agent", hint=FORMAT_HINT)
    return agent


def check_tools(tools: list[Any], where: str) -> None:
    """Every function tool of ``tools`` must have a schema an LLM accepts."""
    from livekit.agents import llm
    from livekit.agents.llm.utils import build_legacy_openai_schema, build_strict_openai_schema

    for tool in tools:
        if isinstance(tool, llm.Toolset):
            check_tools(list(tool.tools), where)
            continue
        name = getattr(getattr(tool, "info", None), "name", type(tool).__name__)
        try:
            if isinstance(tool, llm.FunctionTool):
                build_legacy_openai_schema(tool)
                build_strict_openai_schema(tool)
            elif isinstance(tool, llm.RawFunctionTool):
                params = tool.info.raw_schema.get("parameters")
                if not isinstance(params, dict) or params.get("type") != "object":
                    raise ValueError("raw_schema 'parameters' must be a JSON schema object "
                                     "({\"type\": \"object\", \"properties\": {...}})")
        except Exception as exc:  # noqa: BLE001 - pydantic/schema errors of any kind
            raise ConfigError(
                f"{where}: function tool {name!r} has no valid JSON schema ({describe(exc)})",
                hint="annotate every parameter with a JSON-compatible type (str, int, float, "
                "bool, Literal, list, a pydantic model) or fix its raw_schema") from None


def check_agent(path: str) -> None:
    """Import ``path``, make one agent and check its tools (no network)."""
    agent = build_agent(agent_factory(path), path)
    check_tools(agent.tools, f"agent {clip(path)}")
