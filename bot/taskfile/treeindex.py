"""Task files by id in a commit's tree, read without a checkout (hook mode, a push).

The listing is cached per tree id, in the process's `Memory` (`memory.listings`,
`memory.blob_ids`): one walk a push; without a memory, a walk a look. `TreeIndex` answers `depstate`'s
question as `lookup.TaskIndex` does for files on disk, so both judge alike.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.errors import TaskbotError, TaskFileError
from bot.state.memory import Memory
from bot.taskfile import depstate
from bot.taskfile.depstate import Found, id_matches
from bot.taskfile.limits import MAX_BYTES
from bot.taskfile.model import DependencyState, Task
from bot.taskfile.parse import parse as parse_task

if TYPE_CHECKING:
    import pygit2


def find_in_tree(repo: pygit2.Repository, rev: str, tasks_dir: str, task_id: str,
                 memory: Memory | None = None) -> tuple[str, bytes] | None:
    """A task by id in a commit's tree, read without a checkout: (repository path, bytes)."""
    found = _locate(repo, rev, tasks_dir, task_id, memory)
    if found is None:
        return None
    rel, oid = found
    data = _blob(repo, oid)
    if data is None:
        raise TaskFileError(f"{rel}: larger than 1 MiB")
    return rel, data


def _locate(repo: pygit2.Repository, rev: str, tasks_dir: str, task_id: str,
            memory: Memory | None) -> tuple[str, pygit2.Oid] | None:
    """The blob of a task by id: a file named for it, else one whose frontmatter says it."""
    import pygit2  # noqa: PLC0415 -- here: finding a task on disk need not load libgit2

    try:
        tree = repo.revparse_single(rev).peel(pygit2.Commit).tree
        folder = tree[sys.intern(tasks_dir)] if tasks_dir not in ("", ".") else tree
    except (KeyError, ValueError):
        return None
    if not isinstance(folder, pygit2.Tree):
        return None
    prefix = "" if tasks_dir in ("", ".") else tasks_dir.rstrip("/") + "/"
    wanted = task_id.lower()
    blobs = _listing(repo, folder, prefix, memory)
    named = [(rel, oid) for rel, oid in blobs
             if wanted in rel.lower() and id_matches(PurePosixPath(rel), task_id)]
    chosen = depstate.best(task_id, [(PurePosixPath(rel).stem, partial(_blob, repo, oid))
                                     for rel, oid in named], parse_task)
    if chosen is not None:
        return named[chosen]
    for rel, oid in blobs:  # by frontmatter id: only when no file is named for it
        if _blob_id(repo, oid, rel, memory) == wanted:
            return rel, oid
    return None


def task_files(repo: pygit2.Repository, rev: str, folder: str, memory: Memory | None = None
               ) -> list[tuple[str, Callable[[], bytes | None]]]:
    """Every `.md` file under `folder` in `rev`'s tree, sorted: (repository path, its bytes'
    reader: None past MAX_BYTES); [] when there is no such folder."""
    import pygit2  # noqa: PLC0415 -- as in _locate

    try:
        tree = repo.revparse_single(rev).peel(pygit2.Commit).tree
        found = tree[sys.intern(folder)] if folder not in ("", ".") else tree
    except (KeyError, ValueError):
        return []
    if not isinstance(found, pygit2.Tree):
        return []
    prefix = "" if folder in ("", ".") else folder.rstrip("/") + "/"
    return [(rel, partial(_blob, repo, oid))
            for rel, oid in _listing(repo, found, prefix, memory)]


class TreeIndex:
    """The task files under `root` (like `tasks`) in `rev`'s tree, as `depstate` asks."""

    def __init__(self, repo: pygit2.Repository, rev: str, root: str,
                 memory: Memory | None = None) -> None:
        self.repo, self.rev, self.root, self.memory = repo, rev, root, memory
        self.name = PurePosixPath(root).name or "."

    def find_task(self, task_id: str) -> Found | None:
        found = _locate(self.repo, self.rev, self.root, task_id, self.memory)
        if found is None:
            return None
        rel, oid = found
        inner = (PurePosixPath(rel).relative_to(self.root) if self.root not in ("", ".")
                 else PurePosixPath(rel))
        return Found(inner, partial(self._load, rel, oid))

    def _load(self, rel: str, oid: pygit2.Oid) -> Task:
        data = _blob(self.repo, oid)
        if data is None:
            raise TaskFileError(f"{rel}: larger than 1 MiB")
        return parse_task(data, rel)

    def missing(self, task_id: str) -> str:
        return f"no task {task_id} under {self.name}/"


def tree_dependency_state(repo: pygit2.Repository, rev: str, root: str, task_id: str,
                          waiter: str = "", memory: Memory | None = None) -> DependencyState:
    """`lookup.dependency_state` read from a commit's tree (`root`: the tasks root in it,
    like `tasks`): the same judgement, cycles included."""
    index = TreeIndex(repo, rev, root, memory)
    return depstate.state(task_id, index, index.name, waiter)


_CACHED = 8  # tree listings kept: a push looks up in one or two trees
_CACHED_IDS = 20_000  # frontmatter ids of blobs kept


def _listing(repo: pygit2.Repository, folder: pygit2.Tree, prefix: str, memory: Memory | None
             ) -> list[tuple[str, pygit2.Oid]]:
    """The `.md` blobs under `folder`, sorted: walked once per tree (a tree id names its
    content), not once per id looked up."""
    if memory is None:
        return sorted(_tree_md(repo, folder, prefix))
    key, kept = (repo.path, str(folder.id), prefix), memory.listings
    with kept.lock:
        found = kept.items.get(key)
    if found is None:
        found = sorted(_tree_md(repo, folder, prefix))
        with kept.lock:
            if len(kept.items) >= _CACHED:
                del kept.items[next(iter(kept.items))]
            kept.items[key] = found
    return found


def _blob_id(repo: pygit2.Repository, oid: pygit2.Oid, rel: str, memory: Memory | None
             ) -> str | None:
    """The task id a blob parses to (lower case), or None: read once per blob and path."""
    key = (repo.path, str(oid), rel)
    kept = memory.blob_ids if memory is not None else None
    if kept is not None:
        with kept.lock:
            if key in kept.items:
                return kept.items[key]
    data = _blob(repo, oid)
    try:
        found = None if data is None else parse_task(data, rel).id.lower()
    except TaskbotError:
        found = None
    if kept is not None:
        with kept.lock:
            if len(kept.items) >= _CACHED_IDS:
                kept.items.clear()
            kept.items[key] = found
    return found


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes | None:
    """A blob's bytes, or None past MAX_BYTES: a pushed file of any size is never
    read whole (as `lookup._read_or_none` for a file on disk)."""
    import pygit2  # noqa: PLC0415 -- as in _locate

    blob = repo[oid]
    assert isinstance(blob, pygit2.Blob), "_tree_md yields blobs only"
    return None if blob.size > MAX_BYTES else blob.read_raw()


def _tree_md(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str
             ) -> Iterator[tuple[str, pygit2.Oid]]:
    """Walked with a list of folders to do, not by recursion: a pushed tree may be
    thousands of folders deep, and a RecursionError failed every later push."""
    import pygit2  # noqa: PLC0415 -- as in _locate

    todo = [(tree, prefix)]
    while todo:
        folder, at = todo.pop()
        for entry in folder:
            name = entry.name or ""
            sub = repo[entry.id] if entry.filemode == pygit2.enums.FileMode.TREE else None
            if isinstance(sub, pygit2.Tree):
                todo.append((sub, f"{at}{name}/"))
            elif entry.filemode in (pygit2.enums.FileMode.BLOB,  # detection runs both
                                    pygit2.enums.FileMode.BLOB_EXECUTABLE) \
                    and name.endswith(".md"):
                yield f"{at}{name}", entry.id


__all__ = ["TreeIndex", "find_in_tree", "task_files", "tree_dependency_state"]
