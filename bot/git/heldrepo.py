"""The repository object of each worktree taskbot reuses, kept open from one run to the next.

A repository opened afresh reads its whole index at the first look (libgit2 parses every
entry): with thousands of task files that is a millisecond and more at every run's reset
and again at its commit. A kept object reads the index again only when its file changed
since it last read or wrote it (another process wrote it: the file's inode, size and time
differ), so two runs in a row read it once. `bot.git.worktree` holds a worktree's object
from its reset on and lets go of it at any doubt; the commit asks for it (`get`) and
opens its own where none is held. An object is let go too once the repository's packs
changed (git's gc repacked): it would keep the removed packs open, and their space taken,
for as long as the process runs. Held in the process's `Memory` (`memory.repos`): without
one nothing is held, and every look opens the repository afresh.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.state.memory import Memory

if TYPE_CHECKING:
    import pygit2

__all__ = ["drop", "get", "hold"]

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


def get(memory: Memory | None, path: Path) -> pygit2.Repository | None:
    """The object held for the worktree at `path`, if any and its packs are as they were."""
    if memory is None:
        return None
    held = memory.repos.items.get(_key(path))
    if held is None:
        return None
    repo, stamp = held
    if stamp is None or _packs(repo) != stamp:
        drop(memory, path)
        return None
    return repo


def hold(memory: Memory | None, path: Path, repo: pygit2.Repository) -> None:
    if memory is None:
        return
    key, stamp, kept = _key(path), _packs(repo), memory.repos
    with kept.lock:  # groups side by side commit from their own threads
        kept.items.pop(key, None)
        kept.items[key] = (repo, stamp)  # newest last: the oldest goes first
        if len(kept.items) > _LIMIT:
            del kept.items[next(iter(kept.items))]


def drop(memory: Memory | None, path: Path) -> None:
    """Let go of the object held for `path`."""
    if memory is None:
        return
    with memory.repos.lock:
        memory.repos.items.pop(_key(path), None)
