"""Whether a commit made now would record a change among a few paths, without `git status`.

`git status` reads and stats the whole index: at 10,000 task files it is the largest cost
of the dashboard's part of a commit, though the run wrote one or two files. Here only the
paths the caller names are looked at: each file is hashed and compared with HEAD's entry
(blob and mode) in process. git itself is asked, for those paths only, where it might
store other bytes than the worktree holds (an attributes file that could apply, autocrlf,
config from the environment) or the path is no regular file.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import pygit2

from bot.errors import TaskbotError
from bot.git import read

__all__ = ["AtHead", "differs", "rewrites_bytes"]

_CONFIG_ENV = ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS")  # config libgit2 does not read
_SYSTEM_ATTRIBUTES = Path("/etc/gitattributes")


# HEAD's blob id of a path as the caller knows it without reading a tree: "" when HEAD has no
# such file, None when it does not know (then HEAD's tree is read)
AtHead = Callable[[str], str | None]


def differs(worktree: Path, paths: Sequence[str], at_head: AtHead | None = None) -> bool:
    """Whether `git add --all -- paths` then a commit would record a change (a file written,
    created or removed); a path that no longer exists is compared with its absence.
    `at_head`: what the caller knows of HEAD (the dashboard's listing of tasks_dir), so a
    folder of 10,000 files is not read to find one."""
    try:
        repo = read.open_repo(worktree)
        tree = repo.head.peel(pygit2.Commit).tree
    except (TaskbotError, pygit2.GitError, KeyError, ValueError):
        return _git_differs(worktree, paths)
    if rewrites_bytes(repo, worktree, paths):
        return _git_differs(worktree, paths)
    unsure: list[str] = []
    for path in paths:
        known = at_head(path) if at_head is not None else None
        same = _same_as_head(tree, worktree, path) if known is None else \
            _same_as_known(known, worktree, path)
        if same is None:
            unsure.append(path)
        elif not same:
            return True
    return _git_differs(worktree, unsure) if unsure else False


def _same_as_known(blob: str, worktree: Path, path: str) -> bool | None:
    """Whether `path` in the worktree is the regular, not executable file of blob id `blob`
    ("": none); None when only git can tell (an executable file: its mode at HEAD is not
    known here)."""
    try:
        st = os.lstat(worktree / path)
    except FileNotFoundError:
        return not blob
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o100:
        return None
    return bool(blob) and blob == str(pygit2.hashfile(str(worktree / path)))


def _same_as_head(tree: pygit2.Tree, worktree: Path, path: str) -> bool | None:
    """Whether `path` in the worktree is as HEAD has it; None when only git can tell."""
    try:
        held: pygit2.Object | None = tree[sys.intern(path)]  # see bot.git.folders
    except KeyError:
        held = None
    try:
        st = os.lstat(worktree / path)
    except FileNotFoundError:
        return held is None
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if st.st_mode & 0o100 else \
        pygit2.enums.FileMode.BLOB
    return held is not None and held.filemode == mode and \
        held.id == pygit2.hashfile(str(worktree / path))


def rewrites_bytes(repo: pygit2.Repository, worktree: Path, paths: Sequence[str]) -> bool:
    """Whether git might store other bytes than the worktree's for one of `paths`: looked up
    by name (libgit2's attribute lookup reads the whole index, as `git status` does)."""
    if any(os.environ.get(name) for name in _CONFIG_ENV):
        return True
    try:
        autocrlf = str(repo.config["core.autocrlf"]).lower()
    except KeyError:
        autocrlf = "false"
    if autocrlf != "false" or "core.attributesfile" in repo.config:
        return True
    folders = {worktree / folder for p in paths for folder in PurePosixPath(p).parents}
    files = [*(f / ".gitattributes" for f in folders), *_info_attributes(repo),
             _global_attributes(), _SYSTEM_ATTRIBUTES]
    return any(os.path.lexists(f) for f in files)


def _info_attributes(repo: pygit2.Repository) -> list[Path]:
    """`info/attributes` of the git dir and, for a linked worktree, of the common dir."""
    own = Path(repo.path)
    found = [own / "info" / "attributes"]
    try:
        common = (own / (own / "commondir").read_text().strip()).resolve()
    except OSError:
        return found
    return [*found, common / "info" / "attributes"]


def _global_attributes() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "git" / "attributes"


def _git_differs(worktree: Path, paths: Sequence[str]) -> bool:
    if not paths:
        return False
    status = read.git(["status", "--porcelain", "--", *paths], worktree, check=False)
    return status.ok and bool(status.stdout.strip())
