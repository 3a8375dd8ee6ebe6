"""Task files: bytes → `Task` (frontmatter, sections, criteria with their lines).

Structure comes from markdown-it (CommonMark) token line maps and PyYAML node
positions; the only regular expressions are per-line ones that cannot backtrack (where
the box sits on a list item's first line, a dependency id); a trailing annotation is
found with string operations. An annotation counts only when markdown-it reads it as an
HTML comment (not in a code span, not escaped). Parsing is linear in the file, and a
file past any of `bot.taskfile.limits` is refused, whole, with the limit it passed.
Here the parts are put together: the source (`source`), the frontmatter (`frontmatter`),
the block structure (`blocks`), criteria (`criteria`, `annotation`), dependencies
(`deps`), into the records of `model`. Edits live in `bot.taskfile.edit`.
"""

from __future__ import annotations

import bisect
import copy
import functools
import os
import types
from collections.abc import Sequence
from pathlib import PurePath

from bot.taskfile import deps
from bot.taskfile.blocks import MD, Inline, hidden_lines, homes, plain_text, section_key, section_spans, walk
from bot.taskfile.criteria import criterion, item_text
from bot.taskfile.frontmatter import read_frontmatter
from bot.taskfile.limits import MAX_DEPENDENCY_LINE
from bot.taskfile.model import Criterion, Dependency, Section, Task
from bot.taskfile.parsed import Parsed
from bot.taskfile.source import (
    BOM,
    Line,
    check_limit,
    count_lines,
    decode,
    fail,
    line_text,
    read,
    split_lines,
)

__all__ = ["Parsed", "load", "parse", "parse_cached"]

AC_TITLE = "acceptance criteria"
DEPS_TITLE = "dependencies"
LOG_TITLE = "progress log"


@functools.lru_cache(maxsize=8)
def parse_cached(data: bytes, path: str) -> Parsed:
    """Parse once per (bytes, path): plan, apply and re-apply often see the same bytes.

    Everything cached is immutable except the frontmatter values, which `parse`
    hands out as a fresh copy.
    """
    text = decode(data, path)
    bom = text.startswith(BOM)
    check_limit(path, "lines", count_lines(text))  # counted at C speed, before any is built
    lines = split_lines(text)
    first_break = next((ln.eol for ln in lines if ln.eol), "\n")
    newline = first_break
    fm, values = read_frontmatter(text, lines, path)

    blank_upto = fm.close_line + 1 if fm is not None else 0
    md_lines = ["" if n < blank_upto else line_text(text, lines, n) for n in range(len(lines))]
    try:
        tokens = MD.parse("\n".join(md_lines))
    except RecursionError:
        raise fail(path, "Markdown is nested too deeply") from None
    found, items = walk(tokens)
    check_limit(path, "headings", len(found))
    inline = Inline(path)
    heads = [Section(plain_text(h.inline, inline), h.level, h.line, 0) for h in found]
    sections = section_spans(heads, len(lines))

    ac = [s for s in sections if section_key(s.title) == AC_TITLE]
    logs = [s for s in sections if section_key(s.title) == LOG_TITLE]
    starts = [s.start for s in sections]

    criteria: list[Criterion] = []
    progress: list[str] = []
    item_lines = [item.line for item in items]
    for item, home, log in zip(items, homes(item_lines, ac), homes(item_lines, logs),
                               strict=True):
        src = line_text(text, lines, item.line)
        if home is not None:
            # the group: the last heading between the section's and the item's lines
            last = bisect.bisect_left(starts, item.line) - 1
            group = sections[last].title if last >= 0 and starts[last] > home.start else ""
            crit = criterion(item, src, group, len(criteria), inline)
            if crit is not None:
                criteria.append(crit)
        if log is not None:
            progress.append(item_text(item, src))
    check_limit(path, "criteria", len(criteria))

    groups = tuple(dict.fromkeys(c.group for c in criteria if c.group))
    check_limit(path, "groups", len(groups))
    items_read = _dependencies(path, text, lines, sections, groups, hidden_lines(tokens))
    # an id the task itself calls done is not waited on (`TASK-6 (COMPLETED ✅)`)
    done = {d.task_id for d in items_read if d.depends and d.done}
    dependencies = list(dict.fromkeys(d.task_id for d in items_read
                                      if d.depends and d.task_id not in done))
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


def _dependencies(path: str, text: str, lines: Sequence[Line], sections: Sequence[Section],
                  groups: Sequence[str], hidden: frozenset[int]) -> tuple[Dependency, ...]:
    pending: list[deps.Pending] = []
    for s in sections:
        label = deps.section_label(s.title)
        if section_key(s.title) != DEPS_TITLE and (label[0] is None or s.level > 2):
            continue
        body = [(n, line_text(text, lines, n)) for n in range(s.start + 1, min(s.end, len(lines)))]
        pending.extend(deps.scan(body, label, hidden))
    check_limit(path, "dependencies", len(pending))
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


def parse(data: bytes, path: str) -> Task:
    """Parse a task file's bytes; `path` names it in errors and gives the default id."""
    task = parse_cached(bytes(data), path).task
    fresh = types.MappingProxyType(copy.deepcopy(dict(task.frontmatter)))
    return task._replace(frontmatter=fresh)


def load(path: str | os.PathLike[str]) -> Task:
    return parse(read(path), os.fspath(path))
