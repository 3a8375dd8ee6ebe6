"""The one YAML scalar editor: replaces a scalar's bytes in place, never dumps a document.

PyYAML composes the file and reports where each scalar starts and ends; only those
characters are replaced, in the scalar's own quoting style, so comments, key order,
indentation, anchors and every other byte stay as they were. Refused, with a reason:
files PyYAML cannot read, scalars shared through an anchor (an alias, or an anchored
scalar aliased elsewhere), block and multi-line scalars. Every edit is checked by
composing the result again: all scalars but the edited ones must be unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from bot.errors import TaskbotError

__all__ = ["ScalarChange", "ScalarEdit", "YamlEditError", "YamlFile", "edit_scalars"]

_PROPS_RE = re.compile(r"(?:(?:&\S+|!\S*)[ \t]+)*")
_STR = "tag:yaml.org,2002:str"


class YamlEditError(TaskbotError):
    """The file or the scalar cannot be edited safely; nothing was written."""


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


def _anchors(text: str) -> tuple[dict[int, tuple[str, int]], dict[int, list[int]]]:
    """Anchored nodes and the lines of their aliases, keyed by the node's start index."""
    anchor_of: dict[int, tuple[str, int]] = {}
    aliased_at: dict[int, list[int]] = {}
    current: dict[str, int] = {}
    for event in yaml.parse(text, Loader=_LOADER):
        mark: Any = event.start_mark
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.DocumentStartEvent):
            current = {}
        elif isinstance(event, yaml.AliasEvent) and anchor in current:
            aliased_at.setdefault(current[anchor], []).append(mark.line + 1)
        elif anchor:
            current[anchor] = mark.index
            anchor_of[mark.index] = (anchor, mark.line + 1)
    return anchor_of, aliased_at


@dataclass(frozen=True)
class ScalarEdit:
    node: yaml.ScalarNode
    value: str
    label: str = ""  # what the scalar is, for messages ("spec.values.image.tag")


@dataclass(frozen=True)
class ScalarChange:
    line: int  # 1-based
    label: str
    old: str
    new: str
    quoted: bool = False  # plain style would have changed the value's type: written quoted


class YamlFile:
    """One YAML file (all its documents) composed with node positions."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        # Positions are character offsets into `text`; a BOM is not part of any document.
        self.offset = 1 if text.startswith("\ufeff") else 0
        body = text[self.offset:]
        try:
            self.documents: tuple[yaml.Node, ...] = tuple(
                d for d in yaml.compose_all(body, Loader=_LOADER) if d is not None)
            self._anchor_of, self._aliased_at = _anchors(body)
        except yaml.YAMLError as exc:
            reason = " ".join(str(exc).split())
            raise YamlEditError(f"{name}: PyYAML cannot read this file: {reason}") from exc

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> YamlFile:
        try:
            return cls(data.decode("utf-8"), name)
        except UnicodeDecodeError as exc:
            raise YamlEditError(f"{name}: not UTF-8 text (byte {exc.start})") from exc

    def shared(self, node: yaml.Node) -> str:
        """Why changing `node` would change other places too ("" when it would not)."""
        aliases = self._aliased_at.get(node.start_mark.index)
        if not aliases:
            return ""
        anchor, line = self._anchor_of.get(node.start_mark.index, ("?", node.start_mark.line + 1))
        where = ", ".join(str(n) for n in aliases)
        return f"anchor &{anchor} (line {line}) is aliased at line {where}"


def get(node: yaml.Node | None, *keys: str) -> yaml.Node | None:
    """The value under `keys` in nested mappings (scalar keys only), or None."""
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value
                     if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return node


def scalar(node: yaml.Node | None, *keys: str) -> yaml.ScalarNode | None:
    found = get(node, *keys)
    return found if isinstance(found, yaml.ScalarNode) else None


def walk(node: yaml.Node, seen: set[int] | None = None) -> Iterator[yaml.Node]:
    """Every node under `node` once (aliased nodes are shared, so they are visited once)."""
    seen = set() if seen is None else seen
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, yaml.MappingNode):
            for k, v in reversed(current.value):
                stack.extend((v, k))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))


_RESOLVER = yaml.resolver.Resolver()


def _resolve(value: str) -> str:
    """The tag a plain scalar `value` gets (str, int, float, bool, null, …)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _body(doc: YamlFile, node: yaml.ScalarNode, label: str) -> tuple[int, int]:
    """Start and end (character offsets) of the scalar's own text, without anchor or tag."""
    start, end = node.start_mark.index + doc.offset, node.end_mark.index + doc.offset
    raw = doc.text[start:end]
    props = _PROPS_RE.match(raw)
    skip = props.end() if props else 0
    body = raw[skip:]
    if not node.style:  # plain: None from PyYAML, "" from libyaml
        ok = body == node.value
    elif node.style == "'":
        ok = body == "'" + node.value.replace("'", "''") + "'"
    elif node.style == '"':
        try:
            ok = body.startswith('"') and yaml.safe_load(body) == node.value
        except yaml.YAMLError:
            ok = False
    else:
        ok = False
    if not ok:
        raise YamlEditError(f"{doc.name}: line {node.start_mark.line + 1}: {label or 'scalar'} "
                            f"cannot be located byte-exactly ({raw!r}); not edited")
    return start + skip, end


def _round_trips(value: str) -> bool:
    """Plain `value` loads back as itself (`00` is the int 0, `1.10` the float 1.1)."""
    try:
        loaded = yaml.load(f"k: {value}\n", Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and str(loaded.get("k")) == value


def _render(node: yaml.ScalarNode, value: str, doc: YamlFile, label: str) -> tuple[str, bool]:
    """The new scalar text in the node's style; plain becomes double-quoted if the type would change."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise YamlEditError(f"{doc.name}: {label or 'scalar'}: control characters in {value!r}")
    if node.style == "'":
        return "'" + value.replace("'", "''") + "'", False
    if node.style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"', False
    explicit = node.tag != _resolve(node.value)  # a tag like !!str decides the type itself
    new_tag = _resolve(value)
    if explicit or new_tag in (_STR, node.tag):
        try:
            got = scalar(yaml.compose(f"k: {value}\n", Loader=_LOADER), "k")
        except yaml.YAMLError:
            got = None
        if got is not None and got.value == value and not got.style and _round_trips(value):
            return value, False
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"', True


def edit_scalars(doc: YamlFile, edits: Sequence[ScalarEdit]) -> tuple[str, tuple[ScalarChange, ...]]:
    """The file's text with each edited scalar's bytes replaced; unchanged scalars are skipped."""
    spans: dict[int, tuple[int, str, ScalarEdit, bool]] = {}
    for edit in edits:
        node, label = edit.node, edit.label or "scalar"
        line = node.start_mark.line + 1
        if node.value == edit.value:
            continue
        why = doc.shared(node)
        if why:
            raise YamlEditError(f"{doc.name}: line {line}: {label} is shared through an anchor "
                                f"({why}); change it by hand")
        if node.style in ("|", ">"):
            raise YamlEditError(f"{doc.name}: line {line}: {label} is a block scalar; not edited")
        if node.start_mark.line != node.end_mark.line:
            raise YamlEditError(f"{doc.name}: line {line}: {label} spans several lines; not edited")
        start, end = _body(doc, node, label)
        text, quoted = _render(node, edit.value, doc, label)
        previous = spans.get(start)
        if previous is not None and previous[1] != text:
            raise YamlEditError(f"{doc.name}: line {line}: {label} would be set to two values")
        spans[start] = (end, text, edit, quoted)
    out: list[str] = []
    pos = 0
    changes: list[ScalarChange] = []
    for start in sorted(spans):
        end, text, edit, quoted = spans[start]
        out.append(doc.text[pos:start])
        out.append(text)
        pos = end
        changes.append(ScalarChange(edit.node.start_mark.line + 1, edit.label or "scalar",
                                    edit.node.value, edit.value, quoted))
    out.append(doc.text[pos:])
    result = "".join(out)
    if changes:
        _verify(doc, result, {id(spans[s][2].node): spans[s][2].value for s in spans})
    return result, tuple(changes)


def _verify(doc: YamlFile, result: str, wanted: dict[int, str]) -> None:
    """Compose the result again: same shape, same scalars, except the edited ones."""
    after = YamlFile(result, doc.name)
    if len(after.documents) != len(doc.documents):
        raise YamlEditError(f"{doc.name}: the edit would change the document count; not edited")
    for old, new in zip(doc.documents, after.documents, strict=True):
        _same(old, new, wanted, doc.name)


def _same(old: yaml.Node, new: yaml.Node, wanted: dict[int, str], name: str) -> None:
    stack = [(old, new)]
    seen: set[int] = set()
    while stack:
        a, b = stack.pop()
        if id(a) in seen:
            continue
        seen.add(id(a))
        problem = type(a) is not type(b)
        if not problem and isinstance(a, yaml.ScalarNode):
            expect = wanted.get(id(a), a.value)
            problem = b.value != expect or (id(a) not in wanted and b.tag != a.tag)
        elif not problem:
            pairs = a.value if isinstance(a, yaml.SequenceNode) else [
                x for pair in a.value for x in pair]
            others = b.value if isinstance(b, yaml.SequenceNode) else [
                x for pair in b.value for x in pair]
            problem = len(pairs) != len(others)
            stack.extend(zip(pairs, others, strict=False))
        if problem:
            raise YamlEditError(f"{name}: line {a.start_mark.line + 1}: the edit would change "
                                "more than the chosen scalars; not edited")
