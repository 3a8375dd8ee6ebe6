"""The repository object of each worktree taskbot reuses, kept open from one run to the next.

A repository opened afresh reads its whole index at the first look (libgit2 parses every
entry): with thousands of task files that is a millisecond and more at every run's reset
and again at its commit. A kept object reads the index again only when its file changed
since it last read or wrote it (another process wrote it: the file's inode, size and time
differ), so two runs in a row read it once. `bot.git.worktree` holds a worktree's object
from its reset on and lets go of it at any doubt; the commit asks for it (`get`) and
opens its own where none is held. An object is let go too once the repository's packs
changed (git's gc repacked): it would keep the removed packs open, and their space taken,
for as long as the process runs. In memory only: a new process holds nothing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

__all__ = ["drop", "get", "hold"]

# worktree → (its repository object, the packs folder's stamp when it was held)
_held: dict[str, tuple[pygit2.Repository, tuple[int, int] | None]] = {}
_LOCK = threading.Lock()
_LIMIT = 8  # worktrees this process works in: one per repository at most, a few at most


def _key(path: Path) -> str:
    return os.path.abspath(path)


def _packs(repo: pygit2.Repository) -> tuple[int, int] | None:
    """The stamp of the folder holding the repository's packs (a worktree's: its main
    repository's): it changes when a pack is added or removed."""
    common = Path(repo.path)
    try:
        if (common / "commondir").is_file():
            common = common / (common / "commondir").read_text().strip()
        found = os.stat(common / "objects" / "pack")
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def get(path: Path) -> pygit2.Repository | None:
    """The object held for the worktree at `path`, if any and its packs are as they were."""
    held = _held.get(_key(path))
    if held is None:
        return None
    repo, stamp = held
    if stamp is None or _packs(repo) != stamp:
        drop(path)
        return None
    return repo


def hold(path: Path, repo: pygit2.Repository) -> None:
    key, stamp = _key(path), _packs(repo)
    with _LOCK:  # groups side by side commit from their own threads
        _held.pop(key, None)
        _held[key] = (repo, stamp)  # newest last: the oldest goes first
        if len(_held) > _LIMIT:
            del _held[next(iter(_held))]


def drop(path: Path) -> None:
    """Let go of the object held for `path`."""
    with _LOCK:
        _held.pop(_key(path), None)
