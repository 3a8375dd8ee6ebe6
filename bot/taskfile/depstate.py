"""One judgement of a dependency, wherever the task files are read.

A clone's files (`lookup.TaskIndex`) and a commit's tree (`treeindex.TreeIndex`) each
answer one question, `find(task_id) -> Found | None`; whether the dependency is complete,
what it waits on and whether it waits in a cycle are decided here, once, for both: hook
mode and a clone give the same answer for the same tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import NamedTuple, Protocol

from bot.errors import TaskbotError
from bot.taskfile.model import DependencyState, Task
from bot.taskfile.status import in_completed_folder, is_complete

MAX_CYCLE = 12  # tasks followed when looking for a way back to the waiting one


class Found(NamedTuple):
    """A task file found by id: where under the tasks root, and how to read it."""

    rel: PurePath  # relative to the tasks root
    load: Callable[[], Task]


class Finder(Protocol):
    """The task files under one tasks root, by id."""

    def find_task(self, task_id: str) -> Found | None: ...

    def missing(self, task_id: str) -> str: ...


def id_matches(path: PurePath, task_id: str) -> bool:
    stem = path.stem.lower()
    wanted = task_id.lower()
    return stem == wanted or bool(re.match(re.escape(wanted) + r"(?![A-Za-z0-9.])", stem))


Parser = Callable[[bytes, str], Task]  # `parse.parse`, passed in: this module reads no file


def _rank(task_id: str, stem: str, data: Callable[[], bytes | None], parse: Parser
          ) -> int | None:
    """How well a file named for `task_id` is that task: 0 its exact name, 1 a longer name
    whose frontmatter says this id, 2 a longer name without an id of its own; None when its
    frontmatter names another task (`DEP-1-notes.md` with `id: DEP-1-notes` is not DEP-1)."""
    if stem.lower() == task_id.lower():
        return 0
    raw = data()
    if raw is None:
        return None
    try:
        own = parse(raw, stem).frontmatter.get("id")
    except TaskbotError:
        return 2
    if own is None:
        return 2
    return 1 if str(own).strip().lower() == task_id.lower() else None


def best(task_id: str, named: Sequence[tuple[str, Callable[[], bytes | None]]],
         parse: Parser) -> int | None:
    """The index of the best of the files named for the id, or None."""
    ranked = [(r, i) for i, (stem, data) in enumerate(named)
              if (r := _rank(task_id, stem, data, parse)) is not None]
    return min(ranked)[1] if ranked else None


def state(task_id: str, finder: Finder, name: str, waiter: str = "", *,
          clean: Callable[[str], str] = str) -> DependencyState:
    """Whether `task_id` is complete under the tasks root called `name` (files shown as
    `name/rel`); when `waiter` waits on it in a cycle, says so. `clean` keeps taskbot's own
    paths out of an error."""
    found = finder.find_task(task_id)
    if found is None:
        return DependencyState(task_id, False, finder.missing(task_id))
    shown = f"{name}/{found.rel}"
    if in_completed_folder(found.rel):  # complete even when it no longer parses
        return DependencyState(task_id, True, shown)
    try:
        dep = found.load()
    except TaskbotError as exc:
        return DependencyState(task_id, False, clean(str(exc)))
    if is_complete(dep, found.rel):
        return DependencyState(task_id, True, shown)
    loop = _cycle(waiter, dep, finder) if waiter else ()
    said = _cycle_text(loop) if loop else ""
    if not dep.criteria:
        return DependencyState(task_id, False, said or f"no criteria to check in {shown}",
                               cycle=said)
    return DependencyState(task_id, False, said or f"{len(dep.unchecked)} criteria open in {shown}",
                           cycle=said, unchecked=len(dep.unchecked))


def _cycle(waiter: str, start: Task, finder: Finder) -> tuple[str, ...]:
    """A path of incomplete dependencies from `start` back to `waiter`, or ()."""
    stack: list[tuple[Task, tuple[str, ...]]] = [(start, (waiter, start.id))]
    seen = {start.id.lower()}
    while stack and len(seen) <= MAX_CYCLE:
        task, path = stack.pop()
        for dep_id in task.dependencies:
            if dep_id.lower() == waiter.lower():
                return path
            if dep_id.lower() in seen:
                continue
            seen.add(dep_id.lower())
            nxt = _incomplete(dep_id, finder)
            if nxt is not None:
                stack.append((nxt, (*path, nxt.id)))
    return ()


def _incomplete(task_id: str, finder: Finder) -> Task | None:
    found = finder.find_task(task_id)
    if found is None or in_completed_folder(found.rel):
        return None
    try:
        task = found.load()
    except TaskbotError:
        return None
    return None if is_complete(task, found.rel) else task


def _cycle_text(path: tuple[str, ...]) -> str:
    if len(path) == 2:
        return f"{path[0]} and {path[1]} wait on each other"
    return f"{', '.join(path[:-1])} and {path[-1]} wait on each other in a cycle"
