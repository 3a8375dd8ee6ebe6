"""No import cycle among the modules of bot/ and handlers/: a module may import another
only if that one does not, through any chain, import it back. Every import counts, also
one inside a function or under TYPE_CHECKING: those are how a cycle hides.

The folders and top-level modules keep the layers docs/architecture.md declares (read
from its table, so the two cannot drift): an import points to the same layer or a lower
one, the folders import one another one way, and no chain of imports is longer than
`MAX_CHAIN` modules."""

from __future__ import annotations

import ast
import re
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


# --- layers: docs/architecture.md's table, checked -------------------------------------------

MAX_CHAIN = 10  # modules on the longest chain of imports (issue 18: "at most 10 layers")
_ROW_RE = re.compile(r"^\| (\d+) \| (.+?) \| .+ \|$", re.M)


def _unit(name: str) -> str:
    """The folder or top-level module a module belongs to, dotted: `bot.taskfile`, `bot.cli`."""
    parts = name.split(".")
    if parts[0] != "bot" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def _declared_layers() -> dict[str, int]:
    """`## Layers` in docs/architecture.md: folder or module (dotted) → its layer."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for number, cell in _ROW_RE.findall(section):
        for path in re.findall(r"`([^`]+)`", cell):
            dotted = path.removesuffix("/").removesuffix(".py").removesuffix("/__init__")
            layers[dotted.replace("/", ".")] = int(number)
    return layers


def _longest_chain(graph: dict[str, set[str]]) -> list[str]:
    longest: dict[str, list[str]] = {}

    def chain(node: str) -> list[str]:
        if node not in longest:
            below = [chain(nxt) for nxt in sorted(graph[node])]
            longest[node] = [node, *max(below, key=len, default=[])]
        return longest[node]

    return max((chain(node) for node in sorted(graph)), key=len)


def test_the_layers_table_names_every_folder_and_module() -> None:
    declared = _declared_layers()
    units = {_unit(name) for name in _graph()}
    assert sorted(set(declared) - units) == [], "in docs/architecture.md's Layers, not in the code"
    assert sorted(units - set(declared)) == [], "in the code, not in docs/architecture.md's Layers"
    assert sorted(set(declared.values())) == list(range(1, max(declared.values()) + 1))


def test_no_import_points_up_a_layer() -> None:
    layer = _declared_layers()
    upward = sorted(f"{name} (layer {layer[_unit(name)]}) -> {target} (layer {layer[_unit(target)]})"
                    for name, edges in _graph().items() for target in edges
                    if layer[_unit(target)] > layer[_unit(name)])
    assert upward == [], "\n".join(upward)


def test_the_folders_import_one_another_one_way() -> None:
    folders: dict[str, set[str]] = {}
    for name, edges in _graph().items():
        folders.setdefault(_unit(name), set()).update(
            _unit(target) for target in edges if _unit(target) != _unit(name))
    cycle = _cycle(folders)
    assert not cycle, " -> ".join(cycle)


def test_no_chain_of_imports_is_longer_than_ten_modules() -> None:
    chain = _longest_chain(_graph())
    assert len(chain) <= MAX_CHAIN, f"{len(chain)} modules: " + " -> ".join(chain)
