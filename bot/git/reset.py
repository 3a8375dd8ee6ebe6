"""A worktree's reset through libgit2, in process, where it writes what git would.

`git checkout --force -B` costs a process (~10 ms) on a webhook's way to the handler;
libgit2 does the same reset in ~1 ms when nothing could make git write other bytes for
a file (attributes, filter drivers, autocrlf, config from the environment, sparse
checkout). Otherwise it declines, and `bot.git.worktree` lets git do it whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from bot.git import read

if TYPE_CHECKING:
    import pygit2

__all__ = ["UNTRACKED", "changed_files", "reset_in_process"]

# libgit2's status flags of a file the commit does not hold: GIT_STATUS_WT_NEW, _IGNORED
# (pygit2 is imported late here: `taskbot plan` never loads it).
UNTRACKED = 1 << 7 | 1 << 14

# What makes git write other bytes than the blob's, or other files, than libgit2 would:
# libgit2 runs no filter drivers, knows no `working-tree-encoding`, reads no config from the
# environment (GIT_CONFIG_COUNT…) and ignores sparse checkout. Any of it: git resets.
_BYTE_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
_BYTE_CONFIG = ("filter.", "core.autocrlf", "core.eol", "core.attributesfile",
                "core.sparsecheckout", "include.", "includeif.")
_CONFIG_ENV = ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS")


def reset_in_process(path: Path, branch: str, start: str,
                     changed: Mapping[str, int] | None) -> bool:
    """`git checkout --force -B branch start` through libgit2, for a worktree on `branch` or
    detached (every run after a task's first): ~1 ms where the git process takes ~10 ms on
    a webhook's way to the handler. False where git should do it (and then does it whole):
    another branch checked out here, `branch` checked out in another worktree, or anything
    that could make git write other bytes for a file the reset writes (attributes, filter
    drivers, autocrlf, config from the environment, sparse checkout). `changed`: the
    worktree's status as `changed_files` read it (None: unknown)."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    ref = f"refs/heads/{branch}"
    if changed is None:
        return False
    try:
        repo = read.open_repo(path)
        detached = repo.head_is_detached  # as `drop_branch` leaves it after a landed run
        if not detached and repo.head.name != ref:
            return False
        commit = repo.revparse_single(start).peel(pygit2.Commit)
        if not _plain_bytes(repo, commit, changed):
            return False
        if detached:
            held = repo.branches.local.get(branch)
            if held is not None and held.is_checked_out():  # by another worktree
                return False
            repo.references.create(ref, commit.id, force=True)
            repo.set_head(ref)
        repo.reset(commit.id, pygit2.enums.ResetMode.HARD)
    except (pygit2.GitError, KeyError, ValueError, OSError):
        return False
    return True


def _plain_bytes(repo: pygit2.Repository, commit: pygit2.Commit,
                 changed: Mapping[str, int]) -> bool:
    """Whether every file the reset writes gets its blob's bytes, as git would write them."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    if any(os.environ.get(name) for name in _CONFIG_ENV) or ".gitattributes" in commit.tree:
        return False
    if any(entry.name.lower().startswith(_BYTE_CONFIG) for entry in repo.config):
        return False
    common = Path(repo.path)
    if (common / "commondir").is_file():
        common = (common / (common / "commondir").read_text().strip()).resolve()
    if (common / "info" / "attributes").exists() or (common / "info" / "sparse-checkout").exists():
        return False
    written = {p for p, flags in changed.items() if flags & ~UNTRACKED}
    if not repo.head_is_unborn:
        for delta in repo.head.peel(pygit2.Commit).tree.diff_to_tree(commit.tree).deltas:
            written.update((delta.old_file.path, delta.new_file.path))
    return not any(PurePosixPath(p).name == ".gitattributes" or any(
        repo.get_attr(p, name) is not None for name in _BYTE_ATTRIBUTES) for p in written)


def changed_files(path: Path) -> dict[str, int] | None:
    """The worktree's status, untracked and ignored files included (libgit2 answers without
    starting git): what the reset must look at and whether a previous run left files
    behind. None when it cannot tell."""
    try:
        return read.open_repo(path).status(untracked_files="all", ignored=True)
    except Exception:  # unsure: git resets and cleans
        return None

