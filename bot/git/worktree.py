"""The worktree taskbot reuses per repository and process: its slot, its reset, leftovers.

Flat over time: a repository gets one worktree per process working in it (`SLOTS` at
most), reused by every run whatever its branch, so the state dir holds a checkout per
repository, not per task. A slot is held by an flock the kernel releases when the
process ends; slots nobody holds (and the per-branch worktrees of earlier versions) are
removed when a process takes a slot. The reset itself is `bot.git.reset`'s. A run's worktree
starts from the clone's fetched branch (`prepare_worktree`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.git import heldrepo, read, sparse
from bot.git.pairdiff import Pair
from bot.git.read import GitError, git, open_repo
from bot.git.reset import UNTRACKED, Held, changed_files, reset_in_process
from bot.git.write import fetch
from bot.state.memory import Memory
from bot.state.statedir import WORKTREES, digest, own, slug

__all__ = ["SLOTS", "prepare_worktree", "settle", "worktree"]

SLOTS = 8  # worktrees of one repository at most: one per process using it at the same time
_SLOT_RE = re.compile(r"@[0-9]+(?:\.lock)?")
# The slot each process holds per repository (folder → (worktree, flock'd descriptor)): a
# process's lease, released by the kernel when it ends. Not state: nothing is read back.
# Module-wide, unlike the caches in `Memory`: the flock is the process's, and so is its
# lifetime; a caller without a memory must find its slot again, not take a new one each time.
_held: dict[Path, tuple[Path, int]] = {}
_held_lock = threading.Lock()


def worktree(repo: Path, state_dir: Path, branch: str, start: str,
             pair: Pair | None = None, memory: Memory | None = None,
             keep: Sequence[str] | None = None) -> Path:
    """A clean worktree of `repo` under state_dir on `branch`, reset to `start`; `pair`: a
    comparison of two trees made already, for the reset (`bot.git.pairdiff`); `memory`:
    the process's, where the worktree's settled commit and open repository are kept;
    `keep`: the only paths it holds (`bot.git.sparse`: nothing a push brings fills the
    disk), None: every file.

    One worktree per repository and process, reused by every run whatever its branch: the
    state dir holds a checkout per repository (and per process working at the same time,
    at most `SLOTS`), not one per task, and a reset writes only the files that differ."""
    folder = state_dir / WORKTREES / f"{slug(repo.resolve().name)}-{digest(repo)}"
    own(folder.parent, folder)
    path, fresh = _slot(folder)
    own(path, path / ".git")
    if fresh:
        _remove_others(repo, folder, path)
    mark = _forget_settled(memory, path)
    held = heldrepo.get(memory, path)
    heldrepo.drop(memory, path)  # held again once the worktree is known to be clean
    same, shape = _shape(path, keep) if (path / ".git").exists() else (False, None)
    narrowed = keep is not None  # libgit2 knows no sparse checkout: only settled, here
    if mark is not None and not fresh and same and _head(path) == mark:
        opened = held if held is not None else open_repo(path)
        if reset_in_process(path, branch, start, None, settled=True, pair=pair, opened=opened,
                            memory=memory, held=shape):
            heldrepo.hold(memory, path, opened)
            return path
    if (path / ".git").exists():
        changed = changed_files(path)  # one look at the files: the reset and the clean both use it
        if narrowed or not reset_in_process(path, branch, start, changed, pair=pair,
                                            memory=memory):
            git(["checkout", "--quiet", "--force", "--ignore-other-worktrees", "-B", branch,
                 start], path)
        if changed is None or any(flags & UNTRACKED for flags in changed.values()):
            git(["clean", "--quiet", "-fdx"], path)  # usually not: a process on a run's way
    else:
        _add(repo, path, branch, start, keep)
    heldrepo.hold(memory, path, open_repo(path))  # its index is read at the first look, once
    return path


def _shape(path: Path, keep: Sequence[str] | None) -> tuple[bool, Held | None]:
    """The worktree made to hold `keep` only (None: every file) from its next reset: whether
    a reset in process can follow (not from every file to a few, or back: git's checkout
    does that), and what it held and will hold (None: every file)."""
    if keep is None:
        return not sparse.widen(path), None
    before, after = sparse.narrow(path, keep)
    if before is None or after is None:
        return False, None
    return True, Held(before, after)


def _add(repo: Path, path: Path, branch: str, start: str, keep: Sequence[str] | None) -> None:
    """A new worktree at `path`; one holding only `keep` is made sparse before any file is
    written."""
    git(["worktree", "prune"], repo)  # forget worktrees whose folders were removed
    git(["worktree", "add", "--quiet", "--force", *(["--no-checkout"] if keep is not None
                                                   else []), "-B", branch, str(path), start],
        repo)
    if keep is not None:
        sparse.narrow(path, keep)
        git(["checkout", "--quiet", "--force", "-B", branch, start], path)


def settle(path: Path, memory: Memory | None) -> None:
    """The run in the worktree at `path` is over and committed every file it wrote: its
    files and index are its HEAD's, and the next reset may trust that (when there is a
    memory to keep it in)."""
    if memory is None:
        return
    head = _head(path)
    if head:
        with memory.settled.lock:
            memory.settled.items[path] = head


def _forget_settled(memory: Memory | None, path: Path) -> str | None:
    """The commit the worktree was settled at, forgotten as a run takes it: a run that
    stops half-way leaves no mark."""
    if memory is None:
        return None
    with memory.settled.lock:
        return memory.settled.items.pop(path, None)


def _head(path: Path) -> str:
    try:
        return str(open_repo(path).head.target)
    except Exception:  # no HEAD to speak of: nothing is trusted
        return ""


def prepare_worktree(clone: Path, state_dir: Path, branch: str, base: str,
                     memory: Memory | None = None) -> Path:
    """A worktree on `branch` based on origin/<base> (local <base> without an origin)."""
    start = f"origin/{base}" if fetch(clone) else base
    if read.resolve(clone, start) is None:
        raise GitError(f"{clone}: branch {start!r} does not exist")
    return worktree(clone, state_dir, branch, start, memory=memory)


def _slot(folder: Path) -> tuple[Path, bool]:
    """The worktree folder this process holds for the repository, taken now (True) or
    earlier (False): the first slot no other process holds (an flock on `@N.lock`)."""
    key = Path(os.path.abspath(folder))
    with _held_lock:
        if key in _held:
            path, held = _held.pop(key)
            if _same_file(held, path.with_name(f"{path.name}.lock")):
                _held[key] = (path, held)
                return path, False
            os.close(held)  # its lock file was removed: the lease means nothing any more
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(SLOTS):
            fd = _try_lock(folder / f"@{n}.lock")
            if fd is not None:
                _held[key] = (folder / f"@{n}", fd)
                return folder / f"@{n}", True
    raise GitError(f"{folder}: all {SLOTS} worktree slots are held by other processes")


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _remove_others(repo: Path, folder: Path, mine: Path) -> None:
    """Worktrees of the repository nobody holds: slots of processes that ended, and the one
    per work branch earlier versions made. Only the held slots' checkouts remain."""
    removed = False
    for entry in sorted(folder.iterdir()):
        if entry == mine or not entry.is_dir() or entry.is_symlink():
            continue
        lease = _try_lock(folder / f"{entry.name}.lock") if _SLOT_RE.fullmatch(entry.name) \
            else -1
        if lease is None:
            continue  # another process works there now
        shutil.rmtree(entry, ignore_errors=True)
        removed = True
        if lease >= 0:
            os.close(lease)
    if removed:
        git(["worktree", "prune"], repo, check=False)

