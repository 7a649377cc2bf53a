"""Imports run one way: every module of ``src/avatarkit`` belongs to a layer, and a module
imports only from lower layers or its own (never a sibling layer of the same rank), with no
import cycle between packages or modules.

Every import counts: module-level ones, ones inside functions (lazy imports) and ones under
``TYPE_CHECKING``. The layer map is documented in docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "avatarkit"

#: Bottom to top. A layer may import its own modules and those of lower ranks; layers that
#: share a rank (siblings) may not import each other.
RANKS: dict[str, int] = {
    "base": 0,
    "config": 1,
    "interfaces": 2, "engines": 2, "web": 2,
    "parts": 3, "transports": 3,
    "registry": 4,
    "composer": 5,
    "apps": 6,
    "cli": 7, "api": 7,
}

#: Module (or package) -> layer; the longest matching name wins. A new module must be
#: placed here, which is the point: its place in the architecture is decided, not implied.
LAYER_OF: dict[str, str] = {
    # base: the vocabulary every layer shares; imports nothing of avatarkit above it
    "avatarkit.errors": "base", "avatarkit.redact": "base", "avatarkit.part": "base",
    "avatarkit.hookspecs": "base", "avatarkit.emotions": "base", "avatarkit.media": "base",
    "avatarkit.report": "base", "avatarkit.progress": "base", "avatarkit.tables": "base",
    "avatarkit.lk_private": "base", "avatarkit.catalog": "base", "avatarkit.checks": "base",
    "avatarkit.interruptible": "base", "avatarkit.gc_pauses": "base",
    "avatarkit.config": "config", "avatarkit.config_sources": "config",
    # the two part interfaces and the transport interface
    "avatarkit.brain": "interfaces", "avatarkit.face": "interfaces",
    "avatarkit.speech": "interfaces",
    "avatarkit.transports.base": "interfaces",
    # what runs on this machine, knowing nothing of parts or transports
    "avatarkit.engines": "engines", "avatarkit.render": "engines",
    # servers that need no session, and the join-token rules they share with the CLI
    "avatarkit.web": "web", "avatarkit.tokens": "web",
    "avatarkit.brains": "parts", "avatarkit.faces": "parts",
    "avatarkit.transports": "transports", "avatarkit.playground": "transports",
    "avatarkit.registry": "registry",
    "avatarkit.composer": "composer", "avatarkit.face_chain": "composer",
    "avatarkit.face_tools": "composer", "avatarkit.user_agent": "composer",
    "avatarkit.embed": "apps",
    "avatarkit.playground.server": "apps", "avatarkit.worker": "apps",
    "avatarkit.demo": "apps", "avatarkit.doctor": "apps", "avatarkit.listing": "apps",
    "avatarkit.listing_cache": "apps",
    "avatarkit.testing": "apps", "avatarkit.scaffold": "apps",
    "avatarkit.scaffold_face": "apps", "avatarkit.scaffold_brain": "apps",
    "avatarkit.cli": "cli", "avatarkit.__main__": "cli",
    "avatarkit": "api",  # the package itself: the lazy public API
    "avatarkit.plugin": "api",  # the stable API for plugin authors
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int

    def where(self) -> str:
        path = Path(*self.source.split(".")).with_suffix(".py")
        if not (SRC / path).exists():
            path = Path(*self.source.split("."), "__init__.py")
        return f"src/{path}:{self.line}"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    """The avatarkit modules ``name`` imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield Edge(name, nearest(alias.name, modules), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from . import assets` imports a module
                sub = f"{module}.{alias.name}"
                yield Edge(name, sub if sub in modules else nearest(module, modules),
                           node.lineno)


def nearest(module: str, modules: dict[str, Path]) -> str:
    while module not in modules and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


def layer_of(module: str) -> str:
    name = module
    while name not in LAYER_OF:
        assert "." in name, f"{module} is in no layer: add it to LAYER_OF (and the docs)"
        name = name.rsplit(".", 1)[0]
    return LAYER_OF[name]


def package_of(module: str) -> str:
    """``avatarkit.X`` for every module of the sub-package or top-level module X."""
    return ".".join(module.split(".")[:2])


def all_edges() -> list[Edge]:
    modules = module_files()
    return [edge for name, path in modules.items() for edge in imports(name, path, modules)
            if edge.target != edge.source]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    for name in module_files():
        assert layer_of(name) in RANKS, name


def test_imports_run_one_way() -> None:
    wrong = []
    for edge in all_edges():
        src, dst = layer_of(edge.source), layer_of(edge.target)
        if src != dst and RANKS[src] <= RANKS[dst]:
            kind = "a sibling" if RANKS[src] == RANKS[dst] else "a higher"
            wrong.append(f"{edge.where()}: {edge.source} ({src}) imports {edge.target} "
                         f"({dst}), {kind} layer")
    assert not wrong, "imports against the layer map:\n" + "\n".join(wrong)


@pytest.mark.parametrize("level", ["package", "module"])
def test_no_import_cycles(level: str) -> None:
    graph: dict[str, set[str]] = {}
    for edge in all_edges():
        src, dst = edge.source, edge.target
        if level == "package":
            src, dst = package_of(src), package_of(dst)
        if src != dst:
            graph.setdefault(src, set()).add(dst)
    found = cycles(graph)
    assert not found, f"{level} import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_check_sees_lazy_relative_and_type_checking_imports() -> None:
    """The parser resolves what the layer check relies on (a guard for the guard)."""
    edges = {(e.source, e.target) for e in all_edges()}
    assert ("avatarkit.cli.run", "avatarkit.worker.run") in edges  # inside a function
    assert ("avatarkit.engines.llama_server", "avatarkit.engines.assets") in edges  # `from .`
    assert ("avatarkit.face", "avatarkit.transports.base") in edges  # under TYPE_CHECKING
    assert ("avatarkit.registry", "avatarkit.hookspecs") in edges  # `from . import hookspecs`
