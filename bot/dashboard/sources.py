"""What the dashboard lists: the task files of tasks_dir at HEAD and those a run wrote.

HEAD's files come from the row cache's listing (path → blob id) brought to HEAD's tree by
what changed since: a tree diff (libgit2 skips every unchanged subtree, though it reads a
changed folder whole: at 10,000 files, milliseconds a tree), or, when HEAD is the commit
taskbot made of the last listing's files, those files alone (`predicted`), and no tree is
read. The run's files (`changed`) are read from the worktree; without them, `git status`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from bot.config import Config
from bot.dashboard import cache as dashcache
from bot.dashboard.state import DashboardState, Listing
from bot.errors import TaskbotError
from bot.git import unstaged
from bot.git.read import git
from bot.taskfile.source import read as read_task

__all__ = ["Listed", "folder_files", "overlay", "predicted", "sources", "tasks_dir_of",
           "tree_at", "worktree_files"]

_REGULAR = frozenset({pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE})


def _walk(tree: pygit2.Tree, prefix: str) -> Iterable[tuple[str, str]]:
    """Walked with a list of folders to do, not by recursion: a pushed tree may be
    thousands of folders deep (a RecursionError would fail every commit's dashboard)."""
    todo = [(tree, prefix)]
    while todo:
        folder, at = todo.pop()
        for item in folder:
            name = at + (item.name or "")
            if isinstance(item, pygit2.Tree):
                todo.append((item, name + "/"))
            elif item.filemode in _REGULAR and name.endswith(".md"):
                yield name, str(item.id)


def _committed(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str,
               cache: dashcache.Rows[Any], predicted: Mapping[str, str | None] | None
               ) -> tuple[dict[str, str], dict[str, str | None] | None]:
    """Path → blob id of every task file in `tree`: the cached listing (its own dict) with
    the diff from the tree it was made of applied, and that diff (path → blob, None: gone);
    or a whole walk, and None. `predicted`: that diff as known without reading a tree
    (taskbot's own commit of the last listing's files): at 10,000 files each tree read
    costs milliseconds."""
    if isinstance(cache.files, dict) and cache.tree == str(tree.id):
        return cache.files, {}
    if isinstance(cache.files, dict) and predicted is not None:
        diff = dict(predicted)
        _apply(cache.files, diff)
        return cache.files, diff
    old = repo.get(cache.tree) if isinstance(cache.files, dict) and cache.tree else None
    if not isinstance(old, pygit2.Tree) or not isinstance(cache.files, dict):
        return dict(_walk(tree, prefix)), None
    diff = {}
    for delta in old.diff_to_tree(tree).deltas:
        path = prefix + delta.new_file.path
        diff[prefix + delta.old_file.path] = None
        if delta.status != pygit2.enums.DeltaStatus.DELETED and path.endswith(".md") \
                and delta.new_file.mode in _REGULAR:
            diff[path] = str(delta.new_file.id)
    _apply(cache.files, diff)  # in place: a commit costs its diff, not a copy of them all
    return cache.files, diff


def _apply(files: dict[str, str], diff: Mapping[str, str | None]) -> None:
    for path, blob in diff.items():
        if blob is None:
            files.pop(path, None)
        else:
            files[path] = blob


def predicted(config: Config, head: pygit2.Commit, cache: dashcache.Rows[Any],
               kept: Listing | None, state: DashboardState) -> dict[str, str | None] | None:
    """What changed in tasks_dir since the cache's tree when HEAD is the commit taskbot made
    of the last listing's files, on the commit that listing saw: those files alone."""
    if kept is None or kept.overlay is None or kept.rows is not cache or not kept.made_at:
        return None
    if state.last_commit(config.repo.state_dir) != str(head.id) or \
            [str(p) for p in head.parent_ids] != [kept.made_at]:
        return None
    return kept.overlay


def tasks_dir_of(config: Config) -> str:
    tasks_dir = config.repo.tasks_dir.strip("/")
    return "" if tasks_dir == "." else tasks_dir


def tree_at(head: pygit2.Commit, tasks_dir: str) -> pygit2.Tree | None:
    """tasks_dir's tree at `head` (its id known without reading it)."""
    try:
        tree = head.tree[sys.intern(tasks_dir)] if tasks_dir else head.tree  # see bot.git.folders
    except KeyError:
        return None
    return tree if isinstance(tree, pygit2.Tree) else None


def _under(path: str, tasks_dir: str) -> bool:
    return path.endswith(".md") and (not tasks_dir or path.startswith(tasks_dir + "/"))


def _read(worktree: Path, path: str) -> bytes | None:
    try:
        return read_task(worktree / path)
    except TaskbotError:
        return None


def worktree_files(worktree: Path, paths: Sequence[str], tasks_dir: str
                   ) -> dict[str, bytes | None]:
    """The task files among `paths` (what a run wrote) as they are in the worktree now:
    path → bytes (None: gone — moved to completed/ —, or no longer a regular file)."""
    return {p: _read(worktree, p) for p in paths if _under(p, tasks_dir)}


def _uncommitted(worktree: Path, tasks_dir: str) -> dict[str, bytes | None]:
    """What changed under tasks_dir and is not committed, when the caller cannot say."""
    status = git(["status", "--porcelain", "-z", "--no-renames",
                           "--untracked-files=all", "--", tasks_dir or "."], worktree, check=False)
    paths = [record[3:] for record in status.stdout.split("\0") if len(record) > 3]
    return worktree_files(worktree, paths, tasks_dir)


def folder_files(worktree: Path, tasks_dir: str) -> dict[str, bytes | None]:
    """A folder that is no repository: every regular task file, read."""
    folder = worktree / tasks_dir
    found = sorted(folder.rglob("*.md")) if folder.is_dir() else []
    paths = [p.relative_to(worktree).as_posix() for p in found
             if p.is_file() and not p.is_symlink()]
    return {p: _read(worktree, p) for p in paths}


class Listed(NamedTuple):
    committed: dict[str, str]  # path → blob at HEAD
    diff: dict[str, str | None] | None  # what changed in `committed` since the cache's tree
    changed: dict[str, bytes | None]  # path → uncommitted bytes
    tree: str  # tasks_dir's tree at HEAD, "" when there is none


def sources(worktree: Path, repo: pygit2.Repository, head: pygit2.Commit, tasks_dir: str,
             cache: dashcache.Rows[Any], changed: Sequence[str] | None,
             predicted: Mapping[str, str | None] | None) -> Listed:
    tree = tree_at(head, tasks_dir)
    uncommitted = _uncommitted(worktree, tasks_dir) if changed is None else \
        worktree_files(worktree, changed, tasks_dir)
    if not isinstance(tree, pygit2.Tree):
        return Listed({}, None, uncommitted, "")
    committed, diff = _committed(repo, tree, f"{tasks_dir}/" if tasks_dir else "", cache,
                                 predicted)
    return Listed(committed, diff, uncommitted, str(tree.id))


def overlay(repo: pygit2.Repository, worktree: Path, changed: Mapping[str, bytes | None]
             ) -> dict[str, str | None] | None:
    """What a commit of the files taken from the worktree stores for each (blob id, None:
    gone); None when that is not sure: a filter may rewrite bytes, or a file "gone" is
    one that could not be read but is there."""
    if any(d is None and os.path.lexists(worktree / p) for p, d in changed.items()) or \
            (changed and unstaged.rewrites_bytes(repo, worktree, list(changed))):
        return None
    return {p: None if d is None else str(pygit2.hash(d)) for p, d in changed.items()}


