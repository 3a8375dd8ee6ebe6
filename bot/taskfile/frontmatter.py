"""A task file's YAML frontmatter: found between `---` lines, read safely, refused whole
when its aliases expand past `MAX_FRONTMATTER_NODES` or it holds a lone surrogate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import yaml

from bot.taskfile.limits import MAX_FRONTMATTER_NODES
from bot.taskfile.source import Line, check_limit, fail, line_text

__all__ = ["Frontmatter", "read_frontmatter"]

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class Frontmatter(NamedTuple):
    close_line: int
    body_start: int  # text offset where the YAML starts (line after the opening ---)
    body: str


def _expanded_size(root: yaml.Node, limit: int) -> int | None:
    """Nodes of `root` with aliases expanded (each node counted once per reference),
    or None when that is more than `limit` or infinite (a recursive alias).

    Memoised per node, iterative: the composed graph is small even when its
    expansion is huge.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        if key in sizes:
            continue
        if key in active:
            return None
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    total = sizes[id(root)]
    return total if total <= limit else None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _yaml_problem(e: Exception, first_line: int) -> str:
    if isinstance(e, yaml.MarkedYAMLError):
        what = e.problem or e.context or "invalid YAML"
        mark = e.problem_mark or e.context_mark
        if mark is not None:
            return f"{what} (line {mark.line + first_line + 1}, column {mark.column + 1})"
        return what
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def read_frontmatter(
    text: str, lines: Sequence[Line], path: str
) -> tuple[Frontmatter | None, dict[Any, Any]]:
    if not lines:
        return None, {}
    if line_text(text, lines, 0).rstrip(" \t") != "---":
        return None, {}
    close = next(
        (
            i
            for i in range(1, len(lines))
            if line_text(text, lines, i).rstrip(" \t") in ("---", "...")
        ),
        None,
    )
    if close is None:
        raise fail(path, "frontmatter is not closed (no second '---' line)")
    body_start = lines[1].start if len(lines) > 1 else lines[0].end
    body = text[body_start : lines[close].start]
    check_limit(path, "frontmatter", len(body.encode()))
    loader = yaml.SafeLoader(body)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, MAX_FRONTMATTER_NODES) is None:
            raise fail(path, f"frontmatter is refused: its YAML aliases expand to more than "
                             f"{MAX_FRONTMATTER_NODES} values (or refer to themselves)")
        value = loader.construct_document(node) if node is not None else {}
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise fail(path, f"frontmatter is not valid YAML: {_yaml_problem(e, 1)}") from None
    finally:
        loader.dispose()
    if not isinstance(node, yaml.MappingNode | None) or not isinstance(value, dict):
        raise fail(path, "frontmatter is not a YAML mapping")
    if node is not None and _holds_surrogate(node):
        # A YAML escape (`"\uD800"`) makes a lone surrogate, which no file, commit, branch
        # name or notification can hold: refused here, before it reaches any of them.
        raise fail(path, "frontmatter holds a lone surrogate (a \\uD800-style escape): "
                         "no text can be written with it")
    return Frontmatter(close, body_start, body), value


def _holds_surrogate(node: yaml.Node) -> bool:
    """Whether a scalar under `node` holds a lone surrogate (aliases are visited once)."""
    seen: set[int] = set()
    todo = [node]
    while todo:
        here = todo.pop()
        if id(here) in seen:
            continue
        seen.add(id(here))
        if isinstance(here, yaml.ScalarNode):
            if _SURROGATE_RE.search(str(here.value)):
                return True
        elif isinstance(here, yaml.MappingNode):
            todo.extend(n for pair in here.value for n in pair)
        elif isinstance(here, yaml.SequenceNode):
            todo.extend(here.value)
    return False
