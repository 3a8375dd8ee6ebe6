"""No import cycle among the modules of bot/ and handlers/: a module may import another
only if that one does not, through any chain, import it back. Every import counts, also
one inside a function or under TYPE_CHECKING: those are how a cycle hides."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("bot", "handlers"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path) -> set[str]:
    """Every module `name` names in an import, by its full dotted name (maybe no module)."""
    names: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
            names.add(base)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imported(name, path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # a submodule's own package is imported before it, always: no edge to follow
            if target and target != name and not name.startswith(f"{target}."):
                edges.add(target)
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as the modules along it, or [] (depth-first, colouring)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "bot.run.runmodel" in graph["bot.run.runner"]
    assert graph["handlers.shell"] >= {"bot.api"}


def test_no_import_cycle() -> None:
    cycle = _cycle(_graph())
    assert not cycle, " -> ".join(cycle)


def test_the_core_does_not_import_the_handler_surface() -> None:
    """`bot.api` re-exports for handlers; the core imports the modules it re-exports from."""
    graph = _graph()
    assert [m for m, edges in graph.items() if "bot.api" in edges and m.startswith("bot.")] == []
