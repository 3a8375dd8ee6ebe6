"""Finding task files by id, and whether a task's dependencies are complete.

On disk a tasks root is listed once per lookup (`TaskIndex`): every id of a task's
Dependencies, and every step of a cycle search, is answered from that one listing, and
a file's frontmatter id is read at most once. The root never reaches past the task's
repository (its work tree's top, where `.git` is); for a file in no repository it is
the folder above the file's own, as always, listed up to `MAX_ENTRIES` entries.
In a commit's tree the listing is cached per tree id: one walk a push.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING

from bot.errors import TaskbotError, TaskFileError, UsageError
from bot.taskfile.limits import MAX_BYTES
from bot.taskfile.model import DependencyState, Task
from bot.taskfile.parse import load as load_task
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.source import read as read_task
from bot.taskfile.status import in_completed_folder, is_complete

if TYPE_CHECKING:
    import pygit2

MAX_CYCLE = 12  # tasks followed when looking for a way back to the waiting one
# Files and folders listed under one tasks root: a real one has a few thousand; a task file
# outside any repository (`/tmp/x.md`, root `/`) must not walk the whole disk.
MAX_ENTRIES = 100_000


def id_matches(path: Path, task_id: str) -> bool:
    stem = path.stem.lower()
    wanted = task_id.lower()
    return stem == wanted or bool(re.match(re.escape(wanted) + r"(?![A-Za-z0-9.])", stem))


class TaskIndex:
    """The `.md` files under a tasks root, listed once (`os.walk`: symlinked folders are
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
        for folder, dirs, names in os.walk(self.root):
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
        best = _best(task_id, [(p.stem, partial(_read_or_none, p)) for p in named])
        if best is not None:
            return named[best]
        wanted = task_id.lower()
        # by frontmatter id: only when no file is named for it (each file read once a lookup)
        for path in sorted(Path(folder, name) for folder, name in self.files()):
            if self.frontmatter_id(path) == wanted:
                return path
        return None

    def missing(self, task_id: str) -> str:
        """Why `task_id` is not found, as `DependencyState.where` says it."""
        if self.truncated:
            return (f"no task {task_id} in the first {self.limit:,} entries under "
                    f"{self.root.name}/")
        return f"no task {task_id} under {self.root.name}/"


def _rank(task_id: str, stem: str, data: Callable[[], bytes | None]) -> int | None:
    """How well a file named for `task_id` is that task: 0 its exact name, 1 a longer name
    whose frontmatter says this id, 2 a longer name without an id of its own; None when its
    frontmatter names another task (`DEP-1-notes.md` with `id: DEP-1-notes` is not DEP-1)."""
    if stem.lower() == task_id.lower():
        return 0
    raw = data()
    if raw is None:
        return None
    try:
        own = parse_task(raw, stem).frontmatter.get("id")
    except TaskbotError:
        return 2
    if own is None:
        return 2
    return 1 if str(own).strip().lower() == task_id.lower() else None


def _best(task_id: str, named: Sequence[tuple[str, Callable[[], bytes | None]]]) -> int | None:
    """The index of the best of the files named for the id, or None."""
    ranked = [(r, i) for i, (stem, data) in enumerate(named)
              if (r := _rank(task_id, stem, data)) is not None]
    return min(ranked)[1] if ranked else None


def _read_or_none(path: Path) -> bytes | None:
    try:
        return read_task(path)
    except TaskbotError:
        return None


def _find(root: Path, task_id: str) -> Path | None:
    return TaskIndex(root).find(task_id)


def find_in_tree(repo: pygit2.Repository, rev: str, tasks_dir: str, task_id: str
                 ) -> tuple[str, bytes] | None:
    """A task by id in a commit's tree, read without a checkout: (repository path, bytes)."""
    import pygit2  # noqa: PLC0415 -- here: finding a task on disk need not load libgit2

    try:
        tree = repo.revparse_single(rev).peel(pygit2.Commit).tree
        folder = tree[tasks_dir] if tasks_dir not in ("", ".") else tree
    except (KeyError, ValueError):
        return None
    if not isinstance(folder, pygit2.Tree):
        return None
    prefix = "" if tasks_dir in ("", ".") else tasks_dir.rstrip("/") + "/"
    wanted = task_id.lower()
    blobs = _listing(repo, folder, prefix)
    named = [(rel, oid) for rel, oid in blobs
             if wanted in rel.lower() and id_matches(Path(rel), task_id)]
    best = _best(task_id, [(Path(rel).stem, partial(_blob, repo, oid)) for rel, oid in named])
    if best is not None:
        rel, oid = named[best]
        data = _blob(repo, oid)
        if data is None:
            raise TaskFileError(f"{rel}: larger than 1 MiB")
        return rel, data
    for rel, oid in blobs:  # by frontmatter id: only when no file is named for it
        if _blob_id(repo, oid, rel) == wanted:
            data = _blob(repo, oid)
            assert data is not None, "_blob_id read it"
            return rel, data
    return None


_LISTINGS: dict[tuple[str, str, str], list[tuple[str, pygit2.Oid]]] = {}
_BLOB_IDS: dict[tuple[str, str, str], str | None] = {}
_CACHED = 8  # tree listings kept: a push looks up in one or two trees
_CACHED_IDS = 20_000  # frontmatter ids of blobs kept


def _listing(repo: pygit2.Repository, folder: pygit2.Tree, prefix: str
             ) -> list[tuple[str, pygit2.Oid]]:
    """The `.md` blobs under `folder`, sorted: walked once per tree (a tree id names its
    content), not once per id looked up."""
    key = (repo.path, str(folder.id), prefix)
    if key not in _LISTINGS:
        if len(_LISTINGS) >= _CACHED:
            del _LISTINGS[next(iter(_LISTINGS))]
        _LISTINGS[key] = sorted(_tree_md(repo, folder, prefix))
    return _LISTINGS[key]


def _blob_id(repo: pygit2.Repository, oid: pygit2.Oid, rel: str) -> str | None:
    """The task id a blob parses to (lower case), or None: read once per blob and path."""
    key = (repo.path, str(oid), rel)
    if key not in _BLOB_IDS:
        if len(_BLOB_IDS) >= _CACHED_IDS:
            _BLOB_IDS.clear()
        data = _blob(repo, oid)
        try:
            _BLOB_IDS[key] = None if data is None else parse_task(data, rel).id.lower()
        except TaskbotError:
            _BLOB_IDS[key] = None
    return _BLOB_IDS[key]


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes | None:
    """A blob's bytes, or None past MAX_BYTES: a pushed file of any size is never
    read whole (as `_read_or_none` for a file on disk)."""
    import pygit2  # noqa: PLC0415 -- as in find_in_tree

    blob = repo[oid]
    assert isinstance(blob, pygit2.Blob), "_tree_md yields blobs only"
    return None if blob.size > MAX_BYTES else blob.read_raw()


def _tree_md(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str
             ) -> Iterator[tuple[str, pygit2.Oid]]:
    import pygit2  # noqa: PLC0415 -- as in find_in_tree

    for entry in tree:
        name = entry.name or ""
        sub = repo[entry.id] if entry.filemode == pygit2.enums.FileMode.TREE else None
        if isinstance(sub, pygit2.Tree):
            yield from _tree_md(repo, sub, f"{prefix}{name}/")
        elif entry.filemode == pygit2.enums.FileMode.BLOB and name.endswith(".md"):
            yield f"{prefix}{name}", entry.id


def tree_dependency_state(repo: pygit2.Repository, rev: str, root: str, task_id: str
                          ) -> DependencyState:
    """`dependency_state` read from a commit's tree (`root`: the tasks root in it, like
    `tasks`). No cycle is looked for: `plan` shows what waits, `run` finds cycles."""
    found = find_in_tree(repo, rev, root, task_id)
    name = PurePosixPath(root).name or "."
    if found is None:
        return DependencyState(task_id, False, f"no task {task_id} under {name}/")
    rel, data = found
    inner = PurePosixPath(rel).relative_to(root) if root not in ("", ".") else PurePosixPath(rel)
    return _judged(task_id, inner, f"{name}/{inner}", partial(parse_task, data, rel))


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
    index = index or TaskIndex(root)
    found = index.find(task_id)
    if found is None:
        return DependencyState(task_id, False, index.missing(task_id))
    rel = found.relative_to(root)

    def cycle(dep: Task) -> str:
        loop = _cycle(waiter, dep, root, index) if waiter else ()
        return _cycle_text(loop) if loop else ""

    return _judged(task_id, rel, f"{root.name}/{rel}", partial(load_task, found),
                   clean=lambda said: said.replace(str(root), root.name), cycle=cycle)


def _judged(task_id: str, rel: PurePath, shown: str, load: Callable[[], Task], *,
            clean: Callable[[str], str] = str,
            cycle: Callable[[Task], str] = lambda _dep: "") -> DependencyState:
    """The state of the dependency found at `rel` under the tasks root (`shown` as a person
    reads it); `clean` keeps taskbot's own paths out of an error, `cycle` names a cycle."""
    if in_completed_folder(rel):  # complete even when it no longer parses
        return DependencyState(task_id, True, shown)
    try:
        dep = load()
    except TaskbotError as exc:
        return DependencyState(task_id, False, clean(str(exc)))
    if is_complete(dep, rel):
        return DependencyState(task_id, True, shown)
    said = cycle(dep)
    if not dep.criteria:
        return DependencyState(task_id, False, said or f"no criteria to check in {shown}",
                               cycle=said)
    return DependencyState(task_id, False, said or f"{len(dep.unchecked)} criteria open in {shown}",
                           cycle=said)


def _cycle(waiter: str, start: Task, root: Path, index: TaskIndex
           ) -> tuple[str, ...]:
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
            nxt = _incomplete(dep_id, root, index)
            if nxt is not None:
                stack.append((nxt, (*path, nxt.id)))
    return ()


def _incomplete(task_id: str, root: Path, index: TaskIndex) -> Task | None:
    found = index.find(task_id)
    if found is None or in_completed_folder(found.relative_to(root)):
        return None
    try:
        task = load_task(found)
    except TaskbotError:
        return None
    return None if is_complete(task, found.relative_to(root)) else task


def _cycle_text(path: tuple[str, ...]) -> str:
    if len(path) == 2:
        return f"{path[0]} and {path[1]} wait on each other"
    return f"{', '.join(path[:-1])} and {path[-1]} wait on each other in a cycle"


def waiting_dependencies(task: Task, path: Path, *,
                         state: Callable[[str, str], DependencyState] | None = None
                         ) -> tuple[DependencyState, ...]:
    """The incomplete dependencies, each with the groups it holds (() = the whole task).

    `state(dep_id, waiter)` looks one up elsewhere (`plan` reading a branch's tree);
    by default beside `path` on disk."""
    look = state or _on_disk(tasks_root(path))
    scopes: dict[str, tuple[str, ...]] = {}
    for item in task.dependency_items:
        if not item.depends:
            continue
        known = scopes.get(item.task_id)
        whole = known == () or not item.groups
        scopes[item.task_id] = () if whole else tuple(dict.fromkeys((*(known or ()),
                                                                     *item.groups)))
    states = (look(d, task.id)._replace(groups=g) for d, g in scopes.items())
    return tuple(s for s in states if not s.complete)


def _on_disk(root: Path) -> Callable[[str, str], DependencyState]:
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
