"""Whether libgit2 reads and writes a few paths byte for byte as git would.

libgit2 runs no filter drivers, knows no `working-tree-encoding`, reads no config from the
environment (GIT_CONFIG_COUNT…) and ignores sparse checkout: where any of it could apply,
taskbot lets git itself reset or commit (`bot.git.reset`, `bot.git.commitpaths`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

__all__ = ["Entry", "plain_bytes"]

# What a tree holds at a path, None where nothing is: the caller's way to read the folders
# on the way (`bot.git.folders.entry` with the process's memory: each read once).
Entry = Callable[["pygit2.Tree", str], object]


def _entry(tree: pygit2.Tree, path: str) -> object:
    try:
        return tree[sys.intern(path)]  # interned: see bot.git.folders
    except KeyError:
        return None


# What makes git write other bytes than the blob's, or other files, than libgit2 would:
# libgit2 runs no filter drivers, knows no `working-tree-encoding`, reads no config from the
# environment (GIT_CONFIG_COUNT…) and ignores sparse checkout. Any of it: git resets.
_BYTE_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
_BYTE_CONFIG = ("filter.", "core.autocrlf", "core.eol", "core.attributesfile",
                "core.sparsecheckout", "include.", "includeif.")
_SPARSE_CONFIG = "core.sparsecheckout"
_CONFIG_ENV = ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS")


def plain_bytes(repo: pygit2.Repository, tree: pygit2.Tree, paths: Iterable[str],
                entry: Entry = _entry, *, sparse: bool = False) -> bool:
    """Whether libgit2 reads and writes `paths` as git would, byte for byte: no attributes,
    filter drivers, autocrlf, config from the environment or sparse checkout could apply.
    `entry` looks in `tree` for the attributes files on the paths' way. `sparse`: the
    caller knows every path is one the worktree's sparse checkout holds (`bot.git.sparse`),
    so its sparse checkout changes nothing for them."""
    if any(os.environ.get(name) for name in _CONFIG_ENV) or ".gitattributes" in tree:
        return False
    if _byte_config(repo, sparse):
        return False
    common = Path(repo.path)
    if (common / "commondir").is_file():
        common = (common / (common / "commondir").read_text().strip()).resolve()
    if (common / "info" / "attributes").exists() or (common / "info" / "sparse-checkout").exists():
        return False
    paths = list(paths)
    if any(PurePosixPath(p).name == ".gitattributes" for p in paths) or _global_attributes():
        return False
    if not _attribute_files(repo, tree, paths, entry):  # nothing could set one: no lookups
        return True
    return not any(repo.get_attr(p, name) is not None for name in _BYTE_ATTRIBUTES
                   for p in paths)


def _byte_config(repo: pygit2.Repository, sparse: bool) -> bool:
    """Config that could make git write other bytes or files; a sparse checkout counts
    unless the caller knows it holds the paths."""
    if any(entry.name.lower().startswith(_BYTE_CONFIG)
           and not (sparse and entry.name.lower().startswith(_SPARSE_CONFIG))
           for entry in repo.config):
        return True
    # the worktree's own patterns (`bot.git.sparse`): libgit2 would write every file
    return not sparse and (Path(repo.path) / "info" / "sparse-checkout").exists()


def _global_attributes() -> bool:
    """A user's or the system's attributes file: git reads it, libgit2 may look elsewhere."""
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return any(os.path.lexists(f) for f in (os.path.join(home, "git", "attributes"),
                                             "/etc/gitattributes"))


def _attribute_files(repo: pygit2.Repository, tree: pygit2.Tree, paths: Sequence[str],
                     entry: Entry) -> bool:
    """Whether an attributes file in a folder on their way (in the tree or the worktree)
    could apply to `paths`. Asking libgit2 per path and attribute costs more with every
    file of the repository (it reloads the index)."""
    workdir = Path(repo.workdir) if repo.workdir else None
    on_the_way = {str(parent) for p in paths for parent in PurePosixPath(p).parents}
    for folder in on_the_way:
        rel = "" if folder == "." else f"{folder}/"
        if workdir is not None and os.path.lexists(workdir / rel / ".gitattributes"):
            return True
        if entry(tree, f"{rel}.gitattributes") is not None:
            return True
    return False
