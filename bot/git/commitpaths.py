"""A commit of the few paths a run wrote, through libgit2, in process.

`git add --all` and `git commit` each read, stat and rewrite the whole index: with
thousands of task files in the repository that is most of what a run's commit costs,
though the run wrote two or three files. Here only the named paths are staged, and the
tree is written from the index's cached trees, so the cost follows what changed. Where
git could write other bytes (attributes, filters, autocrlf, config from the
environment, a sparse checkout not holding every path: `bot.git.sparse`) or clean the
message up differently, it declines and git commits instead. A signed commit is signed
as git signs it: the commit's bytes go to the caller's `Sign` (`ssh-keygen -Y sign -n
git`), and its signature into the `gpgsig` header; when it cannot sign, git commits (and
says why).
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bot.git import folders, sparsefile
from bot.git.plainbytes import plain_bytes
from bot.state.memory import Memory

if TYPE_CHECKING:
    import pygit2

__all__ = ["DECLINED", "Sign", "commit_paths"]

DECLINED = "declined"  # git should make this commit: something here is not plain
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's id of the tree with nothing

# a commit's bytes (no signature yet) → the armored signature over them; None: not signed
Sign = Callable[[bytes], str | None]


def commit_paths(repo: pygit2.Repository, worktree: Path, message: str, name: str, email: str,
                 paths: Sequence[str], sign: Sign | None = None, memory: Memory | None = None
                 ) -> str | None:
    """The commit of `paths` (each written, created or removed) on HEAD of `repo`, the
    worktree's repository, signed by `sign` when given: its sha; None when nothing changed
    (HEAD stays); `DECLINED` where `git commit` should do it. `memory`: the process's, where
    folders read once are kept (`bot.git.folders`)."""
    import pygit2  # noqa: PLC0415 -- loaded with `repo` already

    message = _cleaned(message)
    if not paths or not message:
        return DECLINED
    try:
        if repo.head_is_unborn:
            return DECLINED
        head = repo.head.peel(pygit2.Commit)
        if not plain_bytes(repo, head.tree, paths, partial(folders.entry, memory=memory),
                           sparse=sparsefile.holds(worktree, paths)):
            return DECLINED
        return _commit(repo, head, worktree, message, pygit2.Signature(name, email), paths,
                       sign)
    except (pygit2.GitError, KeyError, ValueError, OSError, RecursionError):
        return DECLINED  # RecursionError: a path 1,000 folders deep is git's to commit


def _commit(repo: pygit2.Repository, head: pygit2.Commit, worktree: Path, message: str,
            who: pygit2.Signature, paths: Sequence[str], sign: Sign | None) -> str | None:
    index = repo.index
    index.read(False)
    if index.conflicts is not None or not _stage(index, worktree, paths):
        return DECLINED
    tree = _tree(repo, head.tree, {p: (index[p].id, index[p].mode) if p in index else None
                                   for p in paths})
    if tree == head.tree_id:
        index.write()  # the stat data refreshed: the next look costs nothing
        return None
    if sign is None:
        sha = repo.create_commit("HEAD", who, who, message, tree, [head.id])
    else:
        signed = _signed(repo, sign, who, message, tree, head.id)
        if signed is None:
            return DECLINED
        sha = signed
    index.write()
    return str(sha)


def _tree(repo: pygit2.Repository, tree: pygit2.Tree | None,
          entries: dict[str, tuple[pygit2.Oid, int] | None]) -> pygit2.Oid:
    """`tree` with the named entries set (None: removed), only the folders on their way
    rewritten: what the index would write, without building every folder of it again from
    its entries (a folder of thousands of task files, each commit)."""
    import pygit2  # noqa: PLC0415 -- loaded with `repo` already

    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    here: dict[str, dict[str, tuple[pygit2.Oid, int] | None]] = {}
    for path, entry in entries.items():
        head, _, rest = path.partition("/")
        if rest:
            here.setdefault(head, {})[rest] = entry
        elif entry is None:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, *entry)
    for name, below in here.items():
        old = builder.get(name)
        sub = repo[old.id] if old is not None and old.filemode == pygit2.enums.FileMode.TREE \
            else None
        oid = _tree(repo, sub if isinstance(sub, pygit2.Tree) else None, below)
        if oid == _EMPTY_TREE:  # git keeps no empty folder
            if old is not None:
                builder.remove(name)
        else:
            builder.insert(name, oid, pygit2.enums.FileMode.TREE)
    return builder.write()


def _signed(repo: pygit2.Repository, sign: Sign, who: pygit2.Signature, message: str,
            tree: pygit2.Oid, parent: pygit2.Oid) -> pygit2.Oid | None:
    """The signed commit, HEAD moved to it (with the reflog line `git commit` writes);
    None when `sign` did not sign."""
    # the commit's text: pygit2's stubs say Oid, but it returns the str git would hash
    content = cast(str, repo.create_commit_string(who, who, message, tree, [parent]))
    signature = sign(content.encode())
    if signature is None:
        return None
    # without its last line break, which libgit2 would keep as a blank header line (git not)
    sha = repo.create_commit_with_signature(content, signature.rstrip("\n"))
    repo.head.set_target(sha, f"commit: {message.splitlines()[0]}")
    return sha


def _stage(index: pygit2.Index, worktree: Path, paths: Sequence[str]) -> bool:
    """Each path as `git add --all` stages it: a regular file added, a missing one removed;
    anything else (a link, a folder) is git's to judge."""
    for path in paths:
        try:
            mode = os.lstat(worktree / path).st_mode
        except FileNotFoundError:
            if path in index:
                index.remove(path)
            continue
        if not stat.S_ISREG(mode):
            return False
        index.add(path)
    return True


def _cleaned(message: str) -> str:
    """The message as `git commit`'s default clean-up keeps it, where that only strips
    trailing blanks and ends it with a newline; '' where it would do more (a comment line,
    blank lines at the start or in a row): git commits those."""
    lines = [line.rstrip(" \t\v\f\r") for line in message.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or not lines[0] or any(line.startswith("#") for line in lines) \
            or any(not a and not b for a, b in itertools.pairwise(lines)):
        return ""
    return "\n".join(lines) + "\n"
