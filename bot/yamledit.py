"""The one YAML scalar editor: replaces a scalar's bytes in place, never dumps a document.

PyYAML composes the file and reports where each scalar starts and ends; only those
characters are replaced, in the scalar's own quoting style, so comments, key order,
indentation, anchors and every other byte stay as they were. Refused, with a reason:
files PyYAML cannot read, scalars shared through an anchor (an alias, or an anchored
scalar aliased elsewhere), block and multi-line scalars. Every edit is checked by
composing the result again: all scalars but the edited ones must be unchanged.

`set_values` is the same editor for a mapping whose values are read as text (task file
frontmatter): a value is written plain when it reads back as the same text, whatever its
YAML type; block scalars, multi-line scalars and collections are replaced whole, and a
missing key is added as a new line after the mapping. How a value is written as a
scalar (plain or quoted) is `bot.text.yamlquote`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from bot.errors import TaskbotError
from bot.text.yamlquote import LOADER, as_text, double, plain, reads_as_text, resolve, single

__all__ = [
    "ScalarChange", "ScalarEdit", "YamlEditError", "YamlFile", "edit_scalars", "reads_as_text",
    "set_values",
]

_PROPS_RE = re.compile(r"(?:(?:&\S+|!\S*)[ \t]+)*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# YAML's own line breaks (\x85, \u2028, \u2029 too): a value holding one cannot stay one line.
_BREAK_RE = re.compile("[\r\n\x85\u2028\u2029]")
_STR = "tag:yaml.org,2002:str"


class YamlEditError(TaskbotError):
    """The file or the scalar cannot be edited safely; nothing was written."""


def _anchors(text: str, loader: Any) -> tuple[dict[int, tuple[str, int]], dict[int, list[int]]]:
    """Anchored nodes and the lines of their aliases, keyed by the node's start index."""
    anchor_of: dict[int, tuple[str, int]] = {}
    aliased_at: dict[int, list[int]] = {}
    current: dict[str, int] = {}
    for event in yaml.parse(text, Loader=loader):
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

    def __init__(self, text: str, name: str, loader: Any = LOADER) -> None:
        self.text = text
        self.name = name
        self.loader = loader  # the caller's loader, so node positions agree with its own parse
        # Positions are character offsets into `text`; a BOM is not part of any document.
        self.offset = 1 if text.startswith("\ufeff") else 0
        body = text[self.offset:]
        try:
            self.documents: tuple[yaml.Node, ...] = tuple(
                d for d in yaml.compose_all(body, Loader=loader) if d is not None)
            self._anchor_of, self._aliased_at = _anchors(body, loader)
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


def _refuse_controls(doc: YamlFile, label: str, value: str) -> None:
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise YamlEditError(f"{doc.name}: {label or 'scalar'}: control characters in {value!r}")


def _render(node: yaml.ScalarNode, value: str, doc: YamlFile, label: str) -> tuple[str, bool]:
    """The new scalar text in the node's style; plain becomes double-quoted if the type would change."""
    _refuse_controls(doc, label, value)
    if node.style == "'":
        return single(value), False
    if node.style == '"':
        return double(value), False
    explicit = node.tag != resolve(node.value)  # a tag like !!str decides the type itself
    new_tag = resolve(value)
    if explicit or new_tag in (_STR, node.tag):
        ok, loaded = plain(value)  # `00` is the int 0, `1.10` the float 1.1: not round trips
        if ok and str(loaded) == value:
            return value, False
    return double(value), True


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


def _root(doc: YamlFile) -> yaml.MappingNode | None:
    if len(doc.documents) > 1:
        raise YamlEditError(f"{doc.name}: {len(doc.documents)} YAML documents; not edited")
    root = doc.documents[0] if doc.documents else None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise YamlEditError(f"{doc.name}: not a YAML mapping; not edited")
    return root


def _check_pair(doc: YamlFile, key: str, value: str) -> None:
    if not _KEY_RE.fullmatch(key):
        raise ValueError(f"{doc.name}: key {key!r} is not a simple key")
    if _BREAK_RE.search(value):
        raise ValueError(f"{doc.name}: value for {key!r} contains a line break")
    _refuse_controls(doc, key, value)


def _replace_as_text(doc: YamlFile, node: yaml.Node, value: str) -> tuple[int, int, str]:
    """Where the value `node` is written, and its new text: tag and anchor kept."""
    start, end = node.start_mark.index + doc.offset, node.end_mark.index + doc.offset
    if start == end:  # `key:` with nothing after it
        return start, end, " " + as_text(value, None)
    props = _PROPS_RE.match(doc.text, start, end)
    start = props.end() if props else start
    if isinstance(node, yaml.ScalarNode) and node.style in (None, "", "'", '"'):
        return start, end, as_text(value, node.style or None)
    # A block scalar or a collection: replaced whole, the line breaks it ends with kept.
    old = doc.text[start:end]
    return start, end, as_text(value, None) + old[len(old.rstrip("\r\n")):]


def set_values(doc: YamlFile, pairs: Mapping[str, str], newline: str = "\n") -> str:
    """The text with each key of its one top-level mapping set to a value read as text.

    The last of duplicate keys is the one PyYAML reads, so it is the one set. A key the
    mapping lacks is added, in order, on a new line after it (a file without a document
    becomes that mapping). Raises ValueError for a key that is not a plain word or a value
    with a line break, YamlEditError when the result would not read back as intended.
    """
    root = _root(doc)
    current = {k.value: v for k, v in (root.value if root is not None else ())
               if isinstance(k, yaml.ScalarNode)}
    splices: list[tuple[int, int, str]] = []
    wanted: dict[int, str] = {}
    added: dict[str, str] = {}
    for key, value in pairs.items():
        _check_pair(doc, key, value)
        node = current.get(key)
        if node is None:
            added[key] = value
            continue
        why = doc.shared(node)
        if why:
            raise YamlEditError(f"{doc.name}: line {node.start_mark.line + 1}: {key} is shared "
                                f"through an anchor ({why}); change it by hand")
        splices.append(_replace_as_text(doc, node, value))
        wanted[id(node)] = value
    if added:
        indent = " " * root.start_mark.column if root is not None else ""
        lead = newline if doc.text[doc.offset:] and not doc.text.endswith(("\n", "\r")) else ""
        lines = "".join(f"{indent}{k}: {as_text(v, None)}{newline}" for k, v in added.items())
        splices.append((len(doc.text), len(doc.text), lead + lines))
    out: list[str] = []
    pos = 0
    for start, end, text in sorted(splices):
        out.append(doc.text[pos:start])
        out.append(text)
        pos = end
    out.append(doc.text[pos:])
    result = "".join(out)
    _verify(doc, result, wanted, added)
    return result


def _without_added(name: str, documents: Sequence[yaml.Node], added: Mapping[str, str]
                   ) -> yaml.MappingNode:
    """The one mapping of `documents` without the added keys, which must end it as asked."""
    root = documents[0] if len(documents) == 1 else None
    tail = root.value[-len(added):] if isinstance(root, yaml.MappingNode) else []
    got = [(k.value, v.value) for k, v in tail
           if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)]
    if not isinstance(root, yaml.MappingNode) or got != list(added.items()):
        raise YamlEditError(f"{name}: the added keys would not read back; not edited")
    return yaml.MappingNode(root.tag, root.value[:-len(added)], root.start_mark, root.end_mark,
                            flow_style=root.flow_style)


def _verify(doc: YamlFile, result: str, wanted: dict[int, str],
            added: Mapping[str, str] | None = None) -> None:
    """Compose the result again: same shape, same scalars, except the edited and added ones."""
    after = YamlFile(result, doc.name, doc.loader)
    news: Sequence[yaml.Node] = after.documents
    if added:
        rest = _without_added(doc.name, news, added)
        if not doc.documents and not rest.value:
            return
        news = (rest,)
    if len(news) != len(doc.documents):
        raise YamlEditError(f"{doc.name}: the edit would change the document count; not edited")
    for old, new in zip(doc.documents, news, strict=True):
        _same(old, new, wanted, doc.name)


def _same(old: yaml.Node, new: yaml.Node, wanted: dict[int, str], name: str) -> None:
    stack = [(old, new)]
    seen: set[int] = set()
    while stack:
        a, b = stack.pop()
        if id(a) in seen:
            continue
        seen.add(id(a))
        if id(a) in wanted:  # an edited value, whatever it was, is now this scalar
            problem = not isinstance(b, yaml.ScalarNode) or b.value != wanted[id(a)]
        elif type(a) is not type(b):
            problem = True
        elif isinstance(a, yaml.ScalarNode):
            problem = b.value != a.value or b.tag != a.tag
        else:
            pairs = a.value if isinstance(a, yaml.SequenceNode) else [
                x for pair in a.value for x in pair]
            others = b.value if isinstance(b, yaml.SequenceNode) else [
                x for pair in b.value for x in pair]
            problem = len(pairs) != len(others)
            stack.extend(zip(pairs, others, strict=False))
        if problem:
            raise YamlEditError(f"{name}: line {a.start_mark.line + 1}: the edit would change "
                                "more than the chosen scalars; not edited")
