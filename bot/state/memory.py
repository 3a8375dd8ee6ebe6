"""What a process remembers between pushes: its caches and the locks that guard them.

One `Memory` is made by the process that lives long (the daemon's backend) and handed down
explicitly: the pipeline's `Job`, a handler's `Context`. A short-lived command makes its
own or passes None. Every cache here only saves work: a function given no memory reads
afresh and answers the same, so correctness never depends on what is kept. Each concern's
rules (what is kept, how much, when it is stale) stay in its module; here is only where
the kept things live, each map beside its lock, because groups of a task commit side by
side from their own threads (`bot.run.lanes`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import pygit2

__all__ = ["Held", "Kept", "Memory", "RecordRead"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Kept(Generic[K, V]):
    """One concern's map, oldest first, and the lock its module takes around it."""

    __slots__ = ("items", "lock")

    def __init__(self) -> None:
        self.items: dict[K, V] = {}
        self.lock = threading.Lock()


class Held:
    """One concern's object, made on first use: typed by the module that keeps it, which
    sits above this layer and so cannot be named here. Only its making is locked: what it
    holds is its module's to guard."""

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._value: object = None
        self._lock = threading.Lock()

    def get(self, kind: type[T]) -> T:
        """The object kept, or a new `kind()` kept from now on."""
        with self._lock:
            if not isinstance(self._value, kind):
                self._value = kind()
            return self._value


@dataclass(frozen=True)
class RecordRead:
    """What one load of an append-only record file saw: enough to read only what came after
    (`bot.git.owncommits`)."""

    device: int
    inode: int
    offset: int  # just after the last whole line read
    first_line: bytes  # the file's first line, newline included (b"" at 0)
    last_line: bytes  # the bytes before `offset`, back to the line before (b"" at 0)
    shas: frozenset[str]


@dataclass(frozen=True)
class Memory:
    """A process's caches, by the module that keeps each."""

    # bot.git.worktree: worktrees whose last run committed all it wrote → the commit they
    # were left at, so their next reset compares two commits and looks at no file
    settled: Kept[Path, str] = field(default_factory=Kept)
    # bot.git.heldrepo: worktree → its open repository object, the packs' stamp then
    repos: Kept[str, tuple[pygit2.Repository, tuple[int, int] | None]] = field(
        default_factory=Kept)
    # bot.git.folders: folders of trees read once, by id
    folders: Kept[pygit2.Oid, pygit2.Tree] = field(default_factory=Kept)
    # bot.git.owncommits: the own-commits record as read, by path
    own_commits: Kept[str, RecordRead] = field(default_factory=Kept)
    # bot.taskfile.treeindex: a tree's `.md` blobs, by (repository, tree, prefix)
    listings: Kept[tuple[str, str, str], list[tuple[str, pygit2.Oid]]] = field(
        default_factory=Kept)
    # bot.taskfile.treeindex: the task id a blob parses to, by (repository, blob, path)
    blob_ids: Kept[tuple[str, str, str], str | None] = field(default_factory=Kept)
    # bot.git.trust: files judged trusted, by (tip, path) → the own-commits set and the
    # policy they were judged under (the dashboard judges the run's file again)
    verdicts: Kept[tuple[str, str], tuple[frozenset[str], object]] = field(
        default_factory=Kept)
    # bot.run.repolock: one lock per project directory, shared by every run of the process
    repo_locks: Kept[str, threading.Lock] = field(default_factory=Kept)
    # bot.dashboard.state: the dashboard's listings, rows and documents between commits
    dashboard: Held = field(default_factory=Held)
