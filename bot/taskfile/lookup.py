"""Finding task files by id, and whether a task's dependencies are complete.

On disk a tasks root is listed once per lookup (`TaskIndex`): every id of a task's
Dependencies, and every step of a cycle search, is answered from that one listing, and
a file's frontmatter id is read at most once. The root never reaches past the task's
repository (its work tree's top, where `.git` is); for a file in no repository it is
the folder above the file's own, as always, listed up to `MAX_ENTRIES` entries.
A commit's tree is read by `treeindex` (`find_in_tree`, `tree_dependency_state`); both
are judged by `depstate`, alike.

Only a task's own Dependencies decide what it waits on: `Required for: TASK-2` in
TASK-5 makes TASK-5 wait on nothing, and does not make TASK-2 wait either (TASK-2's file
says that, or nothing does). An id the task itself calls done (`COMPLETED ✅`) is not
waited on; `trusted_dependencies` says which were taken on its word.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from bot.errors import TaskbotError, UsageError
from bot.taskfile import depstate
from bot.taskfile.depstate import Found, id_matches
from bot.taskfile.model import DependencyState, Task
from bot.taskfile.parse import load as load_task
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.source import read as read_task

__all__ = ["MAX_ENTRIES", "DependencyState", "State", "TaskIndex", "dependency_state",
           "find_task", "held_criteria", "id_matches", "tasks_root", "trusted_dependencies",
           "waiting_dependencies"]

# Files and folders listed under one tasks root: a real one has a few thousand; a task file
# outside any repository (`/tmp/x.md`, root `/`) must not walk the whole disk.
MAX_ENTRIES = 100_000


def _walk(top: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` (top-down, errors skipped, symlinked folders listed, not entered),
    with a list of folders to do instead of recursion: Python 3.11's `os.walk` recurses,
    and a pushed folder 1,000 deep failed every later push with a RecursionError."""
    todo = [os.fspath(top)]
    while todo:
        folder = todo.pop()
        dirs: list[str] = []
        names: list[str] = []
        links: set[str] = set()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    is_dir = _is_dir(entry)
                    (dirs if is_dir else names).append(entry.name)
                    if is_dir and entry.is_symlink():
                        links.add(entry.name)
        except OSError:
            continue
        yield folder, dirs, names  # the caller may empty `dirs`: those are not entered
        todo.extend(os.path.join(folder, d) for d in reversed(dirs) if d not in links)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


class TaskIndex:
    """The `.md` files under a tasks root, listed once (`os.walk`'s way: symlinked folders are
    not followed), at most `limit` entries, and outside a repository only the root's files
    and those of its folders; lookups by id answer from the listing."""

    def __init__(self, root: Path, limit: int | None = None) -> None:
        self.root = root
        self.limit = MAX_ENTRIES if limit is None else limit
        self.truncated = False
        self._files: list[tuple[str, str]] | None = None  # (folder, name), walk order
        self._ids: dict[Path, str | None] = {}  # frontmatter id by file, read once

    def files(self) -> list[tuple[str, str]]:
        if self._files is None:
            self._files = self._walk()
        return self._files

    def _walk(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        seen = 0
        # Outside any repository (a file in /tmp) the root is only a guess: its own files
        # and one level of folders (tasks/active, tasks/completed), never a whole tree.
        shallow = _work_tree(self.root) is None
        for folder, dirs, names in _walk(self.root):
            seen += len(dirs) + len(names)
            if seen > self.limit:
                self.truncated = True
                dirs.clear()
                break
            if shallow and folder != str(self.root):
                dirs.clear()
            found.extend((folder, n) for n in names if n.endswith(".md"))
        return found

    def named(self, task_id: str) -> list[Path]:
        """Files named for the id. Names are filtered before any Path is made or stat'ed: in
        a folder of 10,000 tasks, building, stat'ing and sorting every one cost more than all
        else."""
        wanted = task_id.lower()
        return sorted(path for folder, name in self.files() if name.lower().startswith(wanted)
                      and id_matches(path := Path(folder, name), task_id))

    def frontmatter_id(self, path: Path) -> str | None:
        if path not in self._ids:
            try:
                self._ids[path] = load_task(path).id.lower()
            except TaskbotError:
                self._ids[path] = None
        return self._ids[path]

    def find(self, task_id: str) -> Path | None:
        named = self.named(task_id)
        best = depstate.best(task_id, [(p.stem, partial(_read_or_none, p)) for p in named],
                             parse_task)
        if best is not None:
            return named[best]
        wanted = task_id.lower()
        # by frontmatter id: only when no file is named for it (each file read once a lookup)
        for path in sorted(Path(folder, name) for folder, name in self.files()):
            if self.frontmatter_id(path) == wanted:
                return path
        return None

    def find_task(self, task_id: str) -> Found | None:
        """`find` as `depstate` asks: the file relative to the root, and its reader."""
        found = self.find(task_id)
        return None if found is None else Found(found.relative_to(self.root),
                                                partial(load_task, found))

    def missing(self, task_id: str) -> str:
        """Why `task_id` is not found, as `DependencyState.where` says it."""
        if self.truncated:
            return (f"no task {task_id} in the first {self.limit:,} entries under "
                    f"{self.root.name}/")
        return f"no task {task_id} under {self.root.name}/"


def _read_or_none(path: Path) -> bytes | None:
    try:
        return read_task(path)
    except TaskbotError:
        return None


def _find(root: Path, task_id: str) -> Path | None:
    return TaskIndex(root).find(task_id)


def find_task(arg: str, tasks_dir: Path) -> Path:
    """TASK is a path to a task file, or a task id looked up under `tasks_dir`."""
    given = Path(arg)
    if given.suffix == ".md" or given.exists():
        if not given.exists() and not given.is_symlink():
            raise UsageError(f"{arg}: no such task file")
        return given
    found = _find(tasks_dir, arg)
    if found is None:
        raise UsageError(f"{arg}: no task with this id under {tasks_dir}")
    return found


def tasks_root(task_path: Path) -> Path:
    """Where a task's siblings live: the folder above its own (`tasks/` for
    `tasks/active/x.md`), but never above the top of the repository that holds it."""
    folder = task_path.resolve().parent
    top = _work_tree(folder)
    if top is not None and top == folder:
        return folder
    return folder.parent


def _work_tree(folder: Path) -> Path | None:
    """The top of the git work tree holding `folder` (where `.git` is), or None."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def dependency_state(task_id: str, root: Path, waiter: str = "", *,
                     index: TaskIndex | None = None) -> DependencyState:
    """Whether `task_id` is complete under the tasks root; names the file relative to the root
    (never an internal path) and, when `waiter` waits on it in a cycle, says so. `index`:
    the root's listing, shared by every lookup of one task."""
    return depstate.state(task_id, index or TaskIndex(root), root.name, waiter,
                          clean=lambda said: said.replace(str(root), root.name))


State = Callable[[str, str], DependencyState]


def waiting_dependencies(task: Task, path: Path, *, state: State | None = None
                         ) -> tuple[DependencyState, ...]:
    """The incomplete dependencies, each with the groups it holds (() = the whole task).

    `state(dep_id, waiter)` looks one up elsewhere (`plan` reading a branch's tree);
    by default beside `path` on disk. An id the task calls done is not looked up."""
    look = state or _on_disk(tasks_root(path))
    scopes: dict[str, tuple[str, ...]] = {}
    waited = set(task.dependencies)
    for item in task.dependency_items:
        if not item.depends or item.task_id not in waited:
            continue
        known = scopes.get(item.task_id)
        whole = known == () or not item.groups
        scopes[item.task_id] = () if whole else tuple(dict.fromkeys((*(known or ()),
                                                                     *item.groups)))
    states = (look(d, task.id)._replace(groups=g) for d, g in scopes.items())
    return tuple(s for s in states if not s.complete)


def trusted_dependencies(task: Task, path: Path, *, state: State | None = None
                         ) -> tuple[DependencyState, ...]:
    """The dependencies complete only by the task's word (`TASK-6 (COMPLETED ✅)` while
    TASK-6's file has open boxes): each says so in `trusted`."""
    said = [i.task_id for i in task.dependency_items if i.depends and i.done
            and i.task_id not in task.dependencies]
    if not said:
        return ()
    look = state or _on_disk(tasks_root(path))
    out = []
    for dep in dict.fromkeys(said):
        found = look(dep, "")
        if not found.complete:
            why = (f"its file has {found.unchecked} open criteria" if found.unchecked
                   else found.where)
            out.append(found._replace(complete=True,
                                      trusted=f"completed, as this task says ({why})"))
    return tuple(out)


def _on_disk(root: Path) -> State:
    """Dependency states under `root`, listed once for all of them."""
    index = TaskIndex(root)
    return lambda dep, waiter: dependency_state(dep, root, waiter, index=index)


def held_criteria(task: Task, waiting: tuple[DependencyState, ...]) -> dict[int, str]:
    """Criteria of groups a dependency holds → why they wait (the whole task waits when a
    dependency names no group)."""
    held: dict[int, str] = {}
    for state in waiting:
        for c in task.criteria:
            if not state.groups or c.group in state.groups:
                why = state.cycle or f"waiting for {state.task_id}"
                held.setdefault(c.index, why)
    return held
