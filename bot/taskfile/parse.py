"""Task files: bytes → `Task` (frontmatter, sections, criteria with their lines).

Structure comes from markdown-it (CommonMark) token line maps and PyYAML node
positions; the only regular expressions are per-line ones that cannot backtrack (where
the box sits on a list item's first line, a dependency id); a trailing annotation is
found with string operations. An annotation counts only when markdown-it reads it as an
HTML comment (not in a code span, not escaped). Parsing is linear in the file, and a
file past any of `bot.taskfile.limits` is refused, whole, with the limit it passed.
Edits live in `bot.taskfile.edit`.
"""

from __future__ import annotations

import bisect
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
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.hr import hr as _md_hr
from markdown_it.token import Token

from bot.errors import TaskFileError
from bot.taskfile import deps
from bot.taskfile.deps import Dependency
from bot.taskfile.limits import (
    LIMITS,
    MAX_BYTES,
    MAX_DEPENDENCY_LINE,
    MAX_FRONTMATTER_NODES,
    MAX_INLINE_CHARS,
)

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
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# Block structure only: inline parsing (the slow half) runs just for heading titles.
_MD = MarkdownIt("commonmark").disable("inline")
_HR_RUN = {m: re.compile(rf"[{re.escape(m)} \t]*") for m in "*-_"}


def _hr(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's thematic-break rule, which reads the rest of the line a character at a
    time, once per list level opened on it: `- - - … x` (1 MiB) took 2 to 4 s. A line that
    is not only markers and spaces is no break: said at C speed, the rule asked otherwise."""
    pos = state.bMarks[start] + state.tShift[start]
    run = _HR_RUN.get(state.src[pos : pos + 1])
    if run is not None and run.fullmatch(state.src, pos, state.eMarks[start]) is None:
        return False
    return _md_hr(state, start, end, silent)


_MD.block.ruler.at("hr", _hr, {"alt": ["paragraph", "reference", "blockquote", "list"]})
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


def _count_lines(text: str) -> int:
    """len(_split_lines(text)), without building them."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (1 if text and not text.endswith(("\n", "\r")) else 0)


def line_text(text: str, lines: Sequence[Line], n: int) -> str:
    """Line `n` without its line break (and without the BOM, on the first line)."""
    ln = lines[n]
    return text[ln.start + (1 if n == 0 and text.startswith(BOM) else 0) : ln.end]


def blank(line: str) -> bool:
    """Blank as CommonMark has it: spaces and tabs only."""
    return not line.strip(" \t")


def fail(path: str, reason: str) -> TaskFileError:
    return TaskFileError(f"{path}: {' '.join(reason.split())}")


def _limit(path: str, name: str, count: int) -> None:
    """Refuse the file when `count` passes the limit `name` (`limits.LIMITS`)."""
    reason = LIMITS[name].check(count)
    if reason is not None:
        raise fail(path, reason)


class _Inline:
    """What markdown-it's inline parser may still read of this file (`MAX_INLINE_CHARS`):
    up to ~80 µs a character on hostile markup, so the whole file is budgeted."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.spent = 0

    def parse(self, content: str) -> list[Token]:
        self.spent += len(content)
        if self.spent > MAX_INLINE_CHARS:
            _limit(self.path, "inline", self.spent)
        return _MD_INLINE.parseInline(content)


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
    _limit(path, "frontmatter", len(body.encode()))
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


def _plain_text(inline: Token | None, budget: _Inline) -> str:
    """A heading's text as rendered: emphasis, code and link markup dropped."""
    if inline is None:
        return ""
    if not any(ch in _INLINE_MARKUP for ch in inline.content):
        return normalise(inline.content)
    parts: list[str] = []
    for tok in budget.parse(inline.content):
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


class _Heading(NamedTuple):
    level: int
    line: int
    inline: Token | None


def _walk(tokens: Sequence[Token]) -> tuple[list[_Heading], list[_Item]]:
    """Top-level headings and list items outside block quotes, in document order."""
    headings: list[_Heading] = []
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
            headings.append(_Heading(int(tok.tag[1:]), tok.map[0], inline))
    return headings, items


def _sections(heads: Sequence[Section], nlines: int) -> tuple[Section, ...]:
    """Each heading's section runs to the next heading of the same or a higher level
    (one pass: the headings still open wait on a stack)."""
    ends = [nlines] * len(heads)
    open_: list[int] = []
    for k, sec in enumerate(heads):
        while open_ and heads[open_[-1]].level >= sec.level:
            ends[open_.pop()] = sec.start
        open_.append(k)
    return tuple(Section(s.title, s.level, s.start, max(e, s.start + 1))
                 for s, e in zip(heads, ends, strict=True))


def _homes(lines: Sequence[int], sections: Sequence[Section]) -> list[Section | None]:
    """For each of `lines` (ascending), the innermost of `sections` (in document order)
    whose body holds it. One sweep: sections nest or lie apart, so the ones holding a
    line are a stack, innermost on top."""
    out: list[Section | None] = []
    stack: list[Section] = []
    k = 0
    for line in lines:
        while k < len(sections) and sections[k].start < line:
            while stack and stack[-1].end <= sections[k].start:
                stack.pop()
            stack.append(sections[k])
            k += 1
        while stack and stack[-1].end <= line:
            stack.pop()
        out.append(stack[-1] if stack else None)
    return out


@functools.lru_cache(maxsize=8)
def parse_cached(data: bytes, path: str) -> Parsed:
    """Parse once per (bytes, path): plan, apply and re-apply often see the same bytes.

    Everything cached is immutable except the frontmatter values, which `parse`
    hands out as a fresh copy.
    """
    text = _decode(data, path)
    bom = text.startswith(BOM)
    _limit(path, "lines", _count_lines(text))  # counted at C speed, before any is built
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
    found, items = _walk(tokens)
    _limit(path, "headings", len(found))
    inline = _Inline(path)
    heads = [Section(_plain_text(h.inline, inline), h.level, h.line, 0) for h in found]
    sections = _sections(heads, len(lines))

    ac = [s for s in sections if _section_key(s.title) == AC_TITLE]
    logs = [s for s in sections if _section_key(s.title) == LOG_TITLE]
    starts = [s.start for s in sections]

    criteria: list[Criterion] = []
    progress: list[str] = []
    item_lines = [item.line for item in items]
    for item, home, log in zip(items, _homes(item_lines, ac), _homes(item_lines, logs),
                               strict=True):
        src = line_text(text, lines, item.line)
        if home is not None:
            # the group: the last heading between the section's and the item's lines
            last = bisect.bisect_left(starts, item.line) - 1
            group = sections[last].title if last >= 0 and starts[last] > home.start else ""
            crit = _criterion(item, src, group, len(criteria), inline)
            if crit is not None:
                criteria.append(crit)
        if log is not None:
            progress.append(_item_text(item, src))
    _limit(path, "criteria", len(criteria))

    groups = tuple(dict.fromkeys(c.group for c in criteria if c.group))
    _limit(path, "groups", len(groups))
    items_read = _dependencies(path, text, lines, sections, groups, _hidden_lines(tokens))
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


def _dependencies(path: str, text: str, lines: Sequence[Line], sections: Sequence[Section],
                  groups: Sequence[str], hidden: frozenset[int]) -> tuple[Dependency, ...]:
    pending: list[deps.Pending] = []
    for s in sections:
        label = deps.section_label(s.title)
        if _section_key(s.title) != DEPS_TITLE and (label[0] is None or s.level > 2):
            continue
        body = [(n, line_text(text, lines, n)) for n in range(s.start + 1, min(s.end, len(lines)))]
        pending.extend(deps.scan(body, label, hidden))
    _limit(path, "dependencies", len(pending))
    # each item reads its whole line again: a long line of many ids would cost their product
    long = next((p for p in pending if len(p.body) > MAX_DEPENDENCY_LINE), None)
    if long is not None:
        raise fail(path, f"line {long.number + 1}: {len(long.body):,} characters name a "
                         f"dependency, more than the {MAX_DEPENDENCY_LINE:,} taskbot reads")
    return deps.judge(pending, deps.group_index(tuple(groups)))


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


def _criterion(item: _Item, src: str, group: str, index: int, budget: _Inline
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
    a = trailing_annotation(raw)
    if a is not None and _is_comment(inline.content, a.comment, budget):
        annotation = a.body.strip()
        text = raw[: a.start].strip()
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


class Annotation(NamedTuple):
    start: int  # where `<!--` opens
    body: str  # between `taskbot:` and `-->`
    comment: str  # from `<!--` to `-->`


def trailing_annotation(line: str) -> Annotation | None:
    """The `<!-- taskbot: … -->` that ends `line` (spaces and tabs after it aside): the
    leftmost `<!--`, spaces or tabs, `taskbot:` whose body up to the final `-->` holds no
    other `-->`. String searches, each part of the line read a bounded number of times
    (a backtracking pattern took 13 s on a line of `x <!--taskbot:`)."""
    end = len(line.rstrip(" \t"))
    close = end - 3
    if close < 0 or line[close:end] != "-->":
        return None
    # the body must not hold "-->": it starts after the last one before the final one
    earlier = line.rfind("-->", 0, close)
    t = line.find("taskbot:", max(0, earlier - 7))
    while t >= 0 and t + 8 <= close:
        k = t
        while k > 0 and line[k - 1] in " \t":
            k -= 1
        if k >= 4 and line[k - 4 : k] == "<!--":
            return Annotation(k - 4, line[t + 8 : close], line[k - 4 : end])
        t = line.find("taskbot:", t + 1)
    return None


def _is_comment(content: str, candidate: str, budget: _Inline) -> bool:
    """Does the paragraph's first line end with `candidate` as an HTML comment, as the
    Markdown parser reads it (not inside a code span, not escaped, not in a link)?"""
    children = [c for tok in budget.parse(content) for c in tok.children or ()]
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
