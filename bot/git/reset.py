"""A worktree's reset through libgit2, in process, where it writes what git would.

`git checkout --force -B` costs a process (~10 ms) on a webhook's way to the handler;
libgit2 does the same reset in ~1 ms when nothing could make git write other bytes for
a file (attributes, filter drivers, autocrlf, config from the environment). Otherwise it
declines, and `bot.git.worktree` lets git do it whole. A sparse worktree (`bot.git.sparse`)
is reset here only when settled: the paths it holds are written, the rest of the commit
goes to the index only, with git's skip-worktree bit (`bot.git.skipped`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from bot.git import folders, read, skipped
from bot.git.pairdiff import Pair
from bot.git.plainbytes import plain_bytes
from bot.state.memory import Memory

if TYPE_CHECKING:
    import pygit2

__all__ = ["UNTRACKED", "Held", "changed_files", "reset_in_process"]

# libgit2's status flags of a file the commit does not hold: GIT_STATUS_WT_NEW, _IGNORED
# (pygit2 is imported late here: `taskbot plan` never loads it).
UNTRACKED = 1 << 7 | 1 << 14


class Held(NamedTuple):
    """The paths a sparse worktree holds (`bot.git.sparse`) before the reset and after."""
    before: tuple[str, ...]
    after: tuple[str, ...]


def reset_in_process(path: Path, branch: str, start: str,
                     changed: Mapping[str, int] | None, *, settled: bool = False,
                     pair: Pair | None = None, opened: pygit2.Repository | None = None,
                     memory: Memory | None = None, held: Held | None = None) -> bool:
    """`git checkout --force -B branch start` through libgit2, for a worktree on `branch` or
    detached (every run after a task's first): ~1 ms where the git process takes ~10 ms on
    a webhook's way to the handler. False where git should do it (and then does it whole):
    another branch checked out here, `branch` checked out in another worktree, or anything
    that could make git write other bytes for a file the reset writes (attributes, filter
    drivers, autocrlf, config from the environment, sparse checkout). `changed`: the
    worktree's status as `changed_files` read it (None: unknown). `settled`: the caller
    knows the files and index are HEAD's (its last run here committed all it wrote), so
    only the files that differ between HEAD and `start` are written, and none is looked at:
    the cost follows the change, not the size of the repository. `pair`: the comparison of
    two trees made already (`bot.git.pairdiff`), used where they are HEAD's and `start`'s.
    `opened`: the worktree's repository object, kept open (`bot.git.heldrepo`). `memory`:
    the process's, where folders read once are kept (`bot.git.folders`). `held`: a settled
    sparse worktree's paths before and after (`bot.git.sparse`): only those are files, every
    other path of the commit an index entry git's sparse checkout skips."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    ref = f"refs/heads/{branch}"
    # unknown status, or a link where the index has a file (libgit2 would write through
    # it): git's checkout does the reset
    # a sparse worktree is reset here only settled
    if not settled and (held is not None or changed is None or any(
            flags & pygit2.enums.FileStatus.WT_TYPECHANGE for flags in changed.values())):
        return False
    try:
        repo = opened if opened is not None else read.open_repo(path)
        detached = repo.head_is_detached  # as `drop_branch` leaves it after a landed run
        if not detached and repo.head.name != ref:
            return False
        commit = repo.revparse_single(start).peel(pygit2.Commit)
        written = _between(repo, commit, pair)
        if not settled and changed is not None:
            written.update(p for p, flags in changed.items() if flags & ~UNTRACKED)
        if not plain_bytes(repo, commit.tree, _files(held.after) if held else sorted(written),
                           partial(folders.entry, memory=memory), sparse=held is not None):
            return False
        if detached:
            there = repo.branches.local.get(branch)
            if there is not None and there.is_checked_out():  # by another worktree
                return False
        return _move(repo, commit, ref, sorted(written) if settled else None, detached,
                     memory, held)
    except (pygit2.GitError, KeyError, ValueError, OSError, RecursionError):
        return False  # RecursionError: a path 1,000 folders deep (`mkdir(parents=True)`)


def _files(paths: tuple[str, ...]) -> list[str]:
    """The paths judged for their bytes, the attributes files a sparse worktree holds
    beside them left out: one in the tree is found on their way, and git resets."""
    return sorted(p for p in paths if PurePosixPath(p).name != ".gitattributes")


def _move(repo: pygit2.Repository, commit: pygit2.Commit, ref: str, written: list[str] | None,
          detached: bool, memory: Memory | None, held: Held | None) -> bool:
    """The worktree on `ref` at `commit`: only `written` switched, or (None) reset whole."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    if written is not None and not _switch(repo, commit, written, memory, held):
        return False
    if detached:
        repo.references.create(ref, commit.id, force=True)
        repo.set_head(ref)
    if written is not None:
        repo.references.create(ref, commit.id, force=True)
    else:
        repo.reset(commit.id, pygit2.enums.ResetMode.HARD)
    return True


def _switch(repo: pygit2.Repository, commit: pygit2.Commit, paths: list[str],
            memory: Memory | None, held: Held | None) -> bool:
    """The files (and index entries) at `paths` made `commit`'s; False, before anything is
    written, where one is not a plain file in HEAD or in `commit` (a link, a submodule):
    libgit2's checkout does those. Only these files are touched: a checkout would look at
    every file of the worktree, and a folder of thousands of tasks costs it milliseconds.
    In a sparse worktree (`held`) a path it does not hold gets only its index entry,
    skipped as git's sparse checkout skips it, and the paths it stops or starts holding
    are removed or written."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    shown = set(paths) if held is None else set(held.after)
    moving = set() if held is None else set(held.before) ^ shown  # held now or before only
    looked = {*paths, *moving}
    on_disk = looked if held is None else (set(paths) & shown) | moving
    wanted = _plain_files(repo.head.peel(pygit2.Commit).tree, commit.tree, sorted(looked),
                          memory)
    workdir = Path(str(repo.workdir))
    if wanted is None or not all(_writable(workdir, path) for path in on_disk):
        return False
    index = repo.index
    index.read(False)
    try:
        for path, entry in sorted(wanted.items(),
                                  key=lambda item: item[1] is not None and item[0] in shown):
            if path in on_disk:
                _file(repo, workdir, path, entry if path in shown else None)
            _entry(index, path, entry, path in shown)
    except (pygit2.GitError, KeyError, ValueError, OSError):
        index.read(True)  # what was staged here is not written: the index stays HEAD's
        raise
    index.write()
    return True


def _file(repo: pygit2.Repository, workdir: Path, path: str,
          entry: tuple[pygit2.Oid, int] | None) -> None:
    """The file at `path` written as `entry` says (None: removed)."""
    target = workdir / path
    if entry is None:  # removals first: a folder may take a removed file's name
        if os.path.lexists(target):
            target.unlink()
            _prune(target.parent, workdir)
        return
    oid, mode = entry
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(repo[oid].read_raw())
    target.chmod(_MODES[mode])


def _entry(index: pygit2.Index, path: str, entry: tuple[pygit2.Oid, int] | None,
           shown: bool) -> None:
    """The index entry at `path` made `entry`'s: from the file written (`shown`), or
    skipped by the sparse checkout (`bot.git.skipped`)."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    if entry is None:
        if path in index:
            index.remove(path)
    elif shown:
        index.add(path)
    else:
        index.add(pygit2.IndexEntry(path, entry[0], pygit2.enums.FileMode(entry[1])))
        skipped.mark(index, path)


_MODES = {0o100644: 0o644, 0o100755: 0o755}
_NOT_NAMES = {"", ".", "..", ".git"}


def _writable(workdir: Path, path: str) -> bool:
    """Whether writing `path` here stays a plain file inside the worktree: no `..`, `.git`
    or empty part (a crafted tree may hold them; libgit2's checkout refuses them), and no
    link on the way or in its place. Else the full checkout decides, and says why."""
    parts = path.split("/")
    if any(part.lower() in _NOT_NAMES for part in parts):
        return False
    at = workdir
    for part in parts:
        at = at / part
        try:
            found = os.lstat(at)
        except FileNotFoundError:
            return True  # nothing further down to be a link
        if stat.S_ISLNK(found.st_mode):
            return False
    return stat.S_ISREG(found.st_mode)
Wanted = dict[str, "tuple[pygit2.Oid, int] | None"]


def _plain_files(head: pygit2.Tree, tree: pygit2.Tree, paths: list[str], memory: Memory | None
                 ) -> Wanted | None:
    """Each path's blob and mode in `tree` (None: not there), or None when a path is
    anything but a plain file or nothing, in `tree` or in `head`."""
    wanted: Wanted = {}
    for path in paths:
        entries = [folders.entry(source, path, memory) for source in (tree, head)]
        if any(e is not None and int(e.filemode) not in _MODES for e in entries):
            return None
        new = entries[0]
        wanted[path] = (new.id, int(new.filemode)) if new is not None else None
    return wanted


def _prune(folder: Path, top: Path) -> None:
    """Folders a removal left empty go, as git's checkout removes them."""
    while folder != top and folder.is_dir() and not folder.is_symlink():
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _between(repo: pygit2.Repository, commit: pygit2.Commit, pair: Pair | None) -> set[str]:
    """The paths that differ between HEAD and `commit` (the tree diff skips equal folders);
    `pair` where it is the comparison of those two trees (no tree read again)."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    if repo.head_is_unborn:
        return set()
    head = repo.head.peel(pygit2.Commit)
    if pair is not None and pair.of(head.tree_id, commit.tree_id):
        return {d.path for d in pair.deltas}
    paths: set[str] = set()
    for delta in head.tree.diff_to_tree(commit.tree).deltas:
        paths.update((delta.old_file.path, delta.new_file.path))
    return paths


def changed_files(path: Path) -> dict[str, int] | None:
    """The worktree's status, untracked and ignored files included (libgit2 answers without
    starting git): what the reset must look at and whether a previous run left files
    behind. None when it cannot tell."""
    try:
        return read.open_repo(path).status(untracked_files="all", ignored=True)
    except Exception:  # unsure: git resets and cleans
        return None

