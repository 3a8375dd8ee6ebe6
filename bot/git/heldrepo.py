"""The repository object of each worktree taskbot reuses, kept open from one run to the next.

A repository opened afresh reads its whole index at the first look (libgit2 parses every
entry): with thousands of task files that is a millisecond and more at every run's reset
and again at its commit. A kept object reads the index again only when its file changed
since it last read or wrote it (another process wrote it: the file's inode, size and time
differ), so two runs in a row read it once. `bot.git.worktree` holds a worktree's object
from its reset on and lets go of it at any doubt; the commit asks for it (`get`) and
opens its own where none is held. In memory only: a new process holds nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

__all__ = ["drop", "get", "hold"]

_held: dict[str, pygit2.Repository] = {}
_LIMIT = 8  # worktrees this process works in: one per repository at most, a few at most


def _key(path: Path) -> str:
    return os.path.abspath(path)


def get(path: Path) -> pygit2.Repository | None:
    """The object held for the worktree at `path`, if any."""
    return _held.get(_key(path))


def hold(path: Path, repo: pygit2.Repository) -> None:
    key = _key(path)
    _held.pop(key, None)
    _held[key] = repo  # newest last: the oldest goes first
    if len(_held) > _LIMIT:
        del _held[next(iter(_held))]


def drop(path: Path) -> pygit2.Repository | None:
    """Let go of the object held for `path`; the one that was held, if any."""
    return _held.pop(_key(path), None)
