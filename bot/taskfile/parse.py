"""Task files: bytes → `Task` (frontmatter, sections, criteria with their lines).

Structure comes from markdown-it (CommonMark) token line maps and PyYAML node
positions; the only regular expressions are per-line ones (where the box sits on
a list item's first line, a trailing annotation, a dependency id). An annotation counts
only when markdown-it reads it as an HTML comment (not in a code span, not escaped).
Edits live in `bot.taskfile.edit`.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import stat
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, NamedTuple

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.errors import TaskFileError
from bot.taskfile import deps
from bot.taskfile.deps import Dependency

__all__ = [
    "MAX_BYTES",
    "Criterion",
    "Section",
    "Task",
    "load",
    "normalise",
    "parse",
    "read",
]

MAX_BYTES = 1 << 20
# Nodes of the frontmatter with every alias expanded: YAML aliases let a few hundred
# bytes stand for millions of values (an "alias bomb"), which taskbot would construct,
# copy and write into notes and reports. A real frontmatter has a few dozen.
MAX_FRONTMATTER_NODES = 10_000

AC_TITLE = "acceptance criteria"
DEPS_TITLE = "dependencies"
LOG_TITLE = "progress log"

BOM = "\ufeff"
# Line breaks exactly as markdown-it sees them (it normalises \r\n and \r to \n).
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# Applied to the first line of a list item only: where its box is. Repeated markers
# cover items that open on the same line as their parent ("- - [ ] x").
_BOX_RE = re.compile(r"^[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)+(?P<box>\[(?P<mark>[ xX])\])(?=[ \t]|$)")
_MARKER_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_ANNOTATION_RE = re.compile(r"<!--[ \t]*taskbot:(?P<body>(?:(?!-->).)*)-->[ \t]*$")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Block structure only: inline parsing (the slow half) runs just for heading titles.
_MD = MarkdownIt("commonmark").disable("inline")
_MD_INLINE = MarkdownIt("commonmark")
_INLINE_MARKUP = frozenset("*_`[]<>&\\!")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Criterion:
    index: int
    line: int
    col: int
    checked: bool
    text: str
    raw: str
    annotation: str | None
    depth: int
    group: str

    @property
    def identity(self) -> str:
        """Whitespace-normalised line text after the box, annotation included."""
        return normalise(self.raw)


class Section(NamedTuple):
    title: str
    level: int
    start: int
    end: int


class Task(NamedTuple):
    path: str
    id: str
    title: str
    frontmatter: Mapping[str, Any]
    has_frontmatter: bool
    criteria: tuple[Criterion, ...]
    dependencies: tuple[str, ...]  # the ids waited on (a whole task or one group of it)
    progress_log: tuple[str, ...]
    sections: tuple[Section, ...]
    newline: str
    dependency_items: tuple[Dependency, ...] = ()  # every id of the section, read by meaning

    @property
    def unchecked(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.checked)

    @property
    def complete(self) -> bool:
        """Complete by its boxes: at least one criterion, all checked (see `status.is_complete`)."""
        return bool(self.criteria) and all(c.checked for c in self.criteria)


def normalise(text: str) -> str:
    """Criterion identity of a text: runs of whitespace collapsed, ends stripped."""
    return " ".join(text.split())


# --------------------------------------------------------------------------- layout


class Line(NamedTuple):
    start: int  # offset of the first char (in the decoded text, BOM included)
    end: int  # offset just past the content, before the line break
    eol: str  # "\r\n", "\r", "\n" or "" for a last line without one


class Frontmatter(NamedTuple):
    close_line: int
    body_start: int  # text offset where the YAML starts (line after the opening ---)
    body: str


class Parsed(NamedTuple):
    task: Task
    text: str
    lines: tuple[Line, ...]
    bom: bool
    fm: Frontmatter | None
    log_sections: tuple[Section, ...]


def _split_lines(text: str) -> tuple[Line, ...]:
    lines: list[Line] = []
    pos = 0
    for m in LINE_BREAK_RE.finditer(text):
        lines.append(Line(pos, m.start(), m.group()))
        pos = m.end()
    if pos < len(text):
        lines.append(Line(pos, len(text), ""))
    return tuple(lines)


def line_text(text: str, lines: Sequence[Line], n: int) -> str:
    """Line `n` without its line break (and without the BOM, on the first line)."""
    ln = lines[n]
    return text[ln.start + (1 if n == 0 and text.startswith(BOM) else 0) : ln.end]


def blank(line: str) -> bool:
    """Blank as CommonMark has it: spaces and tabs only."""
    return not line.strip(" \t")


def fail(path: str, reason: str) -> TaskFileError:
    return TaskFileError(f"{path}: {' '.join(reason.split())}")


def _decode(data: bytes, path: str) -> str:
    if len(data) > MAX_BYTES:
        raise fail(path, f"larger than 1 MiB ({len(data)} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        reason = f"not UTF-8 (invalid byte 0x{data[e.start]:02x} at offset {e.start})"
        raise fail(path, reason) from None
    nul = text.find("\x00")
    if nul >= 0:
        # markdown-it reads NUL as U+FFFD while the line keeps it: the parser's view and
        # the criterion's text would differ, and git refuses NUL in a commit message.
        line = len(LINE_BREAK_RE.findall(text, 0, nul)) + 1
        raise fail(path, f"contains a NUL byte at line {line}")
    return text


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


def _frontmatter(
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
    return Frontmatter(close, body_start, body), value


def _plain_text(inline: Token | None) -> str:
    """A heading's text as rendered: emphasis, code and link markup dropped."""
    if inline is None:
        return ""
    if not any(ch in _INLINE_MARKUP for ch in inline.content):
        return normalise(inline.content)
    parts: list[str] = []
    for tok in _MD_INLINE.parseInline(inline.content):
        for child in tok.children or ():
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
    return normalise("".join(parts))


def _section_key(title: str) -> str:
    t = title.strip()
    if t.endswith(":"):
        t = t[:-1]
    return normalise(t).casefold()


class _Item(NamedTuple):
    line: int
    depth: int
    first_child: Token | None  # the first block inside the item
    first_inline: Token | None  # the inline token of that block, if any


def _walk(tokens: Sequence[Token]) -> tuple[list[Section], list[_Item]]:
    """Top-level headings (as sections without an end yet) and list items outside
    block quotes, in document order."""
    headings: list[Section] = []
    items: list[_Item] = []
    quote_depth = 0
    item_depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == "blockquote_open":
            quote_depth += 1
        elif tok.type == "blockquote_close":
            quote_depth -= 1
        elif tok.type == "list_item_open":
            if quote_depth == 0 and tok.map is not None:
                first = tokens[i + 1] if i + 1 < len(tokens) else None
                if first is not None and first.type == "list_item_close":
                    first = None
                inline = None
                if first is not None and first.type in ("paragraph_open", "heading_open"):
                    nxt = tokens[i + 2] if i + 2 < len(tokens) else None
                    inline = nxt if nxt is not None and nxt.type == "inline" else None
                items.append(_Item(tok.map[0], item_depth, first, inline))
            item_depth += 1
        elif tok.type == "list_item_close":
            item_depth -= 1
        elif tok.type == "heading_open" and tok.level == 0 and quote_depth == 0 and tok.map is not None:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            inline = nxt if nxt is not None and nxt.type == "inline" else None
            headings.append(Section(_plain_text(inline), int(tok.tag[1:]), tok.map[0], 0))
    return headings, items


def _sections(heads: Sequence[Section], nlines: int) -> tuple[Section, ...]:
    """Each heading's section runs to the next heading of the same or a higher level."""
    out: list[Section] = []
    for k, sec in enumerate(heads):
        end = nlines
        for later in heads[k + 1 :]:
            if later.level <= sec.level:
                end = later.start
                break
        out.append(Section(sec.title, sec.level, sec.start, max(end, sec.start + 1)))
    return tuple(out)


def _inside(line: int, sections: Sequence[Section]) -> Section | None:
    """The innermost of `sections` whose body holds `line`."""
    best: Section | None = None
    for s in sections:
        if s.start < line < s.end and (best is None or s.start >= best.start):
            best = s
    return best


@functools.lru_cache(maxsize=8)
def parse_cached(data: bytes, path: str) -> Parsed:
    """Parse once per (bytes, path): plan, apply and re-apply often see the same bytes.

    Everything cached is immutable except the frontmatter values, which `parse`
    hands out as a fresh copy.
    """
    text = _decode(data, path)
    bom = text.startswith(BOM)
    lines = _split_lines(text)
    first_break = next((ln.eol for ln in lines if ln.eol), "\n")
    newline = first_break
    fm, values = _frontmatter(text, lines, path)

    blank_upto = fm.close_line + 1 if fm is not None else 0
    md_lines = ["" if n < blank_upto else line_text(text, lines, n) for n in range(len(lines))]
    try:
        tokens = _MD.parse("\n".join(md_lines))
    except RecursionError:
        raise fail(path, "Markdown is nested too deeply") from None
    heads, items = _walk(tokens)
    sections = _sections(heads, len(lines))

    ac = [s for s in sections if _section_key(s.title) == AC_TITLE]
    logs = [s for s in sections if _section_key(s.title) == LOG_TITLE]

    criteria: list[Criterion] = []
    progress: list[str] = []
    for item in items:
        src = line_text(text, lines, item.line)
        home = _inside(item.line, ac)
        if home is not None:
            crit = _criterion(item, src, home, sections, len(criteria))
            if crit is not None:
                criteria.append(crit)
        if _inside(item.line, logs) is not None:
            progress.append(_item_text(item, src))

    groups = tuple(dict.fromkeys(c.group for c in criteria if c.group))
    items_read = _dependencies(text, lines, sections, groups, _hidden_lines(tokens))
    dependencies = list(dict.fromkeys(d.task_id for d in items_read if d.depends))
    task_id = _str_or_none(values.get("id")) or _stem(path)
    first_heading = sections[0].title if sections else ""
    title = _str_or_none(values.get("title")) or first_heading or task_id
    task = Task(
        path=path,
        id=task_id,
        title=title,
        frontmatter=types.MappingProxyType(values),
        has_frontmatter=fm is not None,
        criteria=tuple(criteria),
        dependencies=tuple(dependencies),
        dependency_items=items_read,
        progress_log=tuple(progress),
        sections=sections,
        newline=newline,
    )
    return Parsed(task, text, lines, bom, fm, tuple(logs))


def _hidden_lines(tokens: Sequence[Token]) -> frozenset[int]:
    """Lines the reader does not see as text: code blocks, HTML blocks (comments too)."""
    hidden: set[int] = set()
    for tok in tokens:
        if tok.type in ("code_block", "fence", "html_block") and tok.map is not None:
            hidden.update(range(tok.map[0], tok.map[1]))
    return frozenset(hidden)


def _dependencies(text: str, lines: Sequence[Line], sections: Sequence[Section],
                  groups: Sequence[str], hidden: frozenset[int]) -> tuple[Dependency, ...]:
    found: list[Dependency] = []
    for s in sections:
        label = deps.section_label(s.title)
        if _section_key(s.title) != DEPS_TITLE and (label[0] is None or s.level > 2):
            continue
        body = [(n, line_text(text, lines, n)) for n in range(s.start + 1, min(s.end, len(lines)))]
        found.extend(deps.read(body, groups, label, hidden))
    return tuple(found)


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _stem(path: str) -> str:
    name = PurePath(path).name
    return name[: -len(".md")] if name.lower().endswith(".md") else name


def _item_text(item: _Item, src: str) -> str:
    m = _MARKER_RE.match(src)
    if m is not None:
        return src[m.end() :].strip()
    if item.first_inline is not None:
        return item.first_inline.content.split("\n", 1)[0].strip()
    return ""


def _criterion(
    item: _Item, src: str, home: Section, sections: Sequence[Section], index: int
) -> Criterion | None:
    # The parser must agree: the item's first block is a paragraph on the item's own
    # line whose text starts with the box (not code, not a heading, not a quote).
    first, inline = item.first_child, item.first_inline
    if first is None or first.type != "paragraph_open" or inline is None:
        return None
    if first.map is None or first.map[0] != item.line:
        return None
    content = inline.content
    if len(content) < 3 or content[0] != "[" or content[2] != "]" or content[1] not in " xX":
        return None
    if len(content) > 3 and content[3] not in " \t\n":
        return None
    m = _BOX_RE.match(src)
    if m is None:
        return None
    col = m.start("box")
    raw = src[m.end("box") :].strip()
    annotation: str | None = None
    text = raw
    a = _ANNOTATION_RE.search(raw)
    if a is not None and _is_comment(inline.content, a.group().rstrip(" \t")):
        annotation = a.group("body").strip()
        text = raw[: a.start()].strip()
    group = ""
    for s in sections:
        if home.start < s.start < item.line:
            group = s.title
    return Criterion(
        index=index,
        line=item.line,
        col=col,
        checked=m.group("mark") in "xX",
        text=text,
        raw=raw,
        annotation=annotation,
        depth=item.depth,
        group=group,
    )


def _is_comment(content: str, candidate: str) -> bool:
    """Does the paragraph's first line end with `candidate` as an HTML comment, as the
    Markdown parser reads it (not inside a code span, not escaped, not in a link)?"""
    children = [c for tok in _MD_INLINE.parseInline(content) for c in tok.children or ()]
    first_line = next((i for i, c in enumerate(children)
                       if c.type in ("softbreak", "hardbreak")), len(children))
    for child in reversed(children[:first_line]):
        if child.type == "text" and blank(child.content):
            continue
        return child.type == "html_inline" and child.content == candidate
    return False


# --------------------------------------------------------------------------- reading


def read(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; refuses a symlink, a non-regular file, more than 1 MiB."""
    p = os.fspath(path)
    try:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            raise fail(p, "is a symlink; taskbot never follows or edits symlinks")
        if not stat.S_ISREG(st.st_mode):
            raise fail(p, "is not a regular file")
        if st.st_size > MAX_BYTES:
            raise fail(p, f"larger than 1 MiB ({st.st_size} bytes)")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(p, flags | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise fail(p, "is not a regular file")
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise fail(p, f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise fail(p, "larger than 1 MiB")
    return data


def parse(data: bytes, path: str) -> Task:
    """Parse a task file's bytes; `path` names it in errors and gives the default id."""
    task = parse_cached(bytes(data), path).task
    fresh = types.MappingProxyType(copy.deepcopy(dict(task.frontmatter)))
    return task._replace(frontmatter=fresh)


def load(path: str | os.PathLike[str]) -> Task:
    return parse(read(path), os.fspath(path))


def occurrences(criteria: Sequence[Criterion]) -> dict[int, int]:
    """criterion index → how many criteria with the same identity come before it: identical
    lines are counted, as detection, the runner and the journal count them."""
    seen: dict[str, int] = {}
    found: dict[int, int] = {}
    for c in criteria:
        found[c.index] = seen.get(c.identity, 0)
        seen[c.identity] = found[c.index] + 1
    return found
