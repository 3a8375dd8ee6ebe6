"""The dashboard's rows: each task file under tasks_dir, judged and parsed once per content.

A commit re-reads only what changed, and nothing it does grows with the files outside
tasks_dir (`tasks/completed/`, where finished tasks go). The cache (`bot.dashboard.cache`: in the
state dir, kept in memory by the daemon) holds, per path, the blob id last seen there and
what it said (id, title, criteria done, or why it is not listed, and its rendered line),
and the id of the tasks_dir tree it listed: the next listing diffs that tree with the new
one (libgit2 skips every unchanged subtree) and overlays the files the run wrote and has
not committed (`changed`, from the pipeline; without it, `git status`). When the cache is
missing, unreadable or was made under another `[trust]`, everything is read again.

A file is listed only when its whole history is trusted (`trust.check_file`, the rule a
file must meet to run) and it parses; otherwise it is one line saying why, and its title
and id — text from whoever pushed — are never shown. Judged once per (path, blob): the
same bytes reached again through another history count as the bytes a trusted person
wrote there, and taskbot's own uncommitted edit of a file judged trusted as HEAD has it is
trusted too. Trust is judged before the file is parsed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from bot.config import Config
from bot.dashboard import cache as dashcache
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git import write as gitwrite
from bot.git.trust import check_file
from bot.state.statedir import read_owned
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.source import read as read_task

__all__ = ["JUDGE_BUDGET", "PENDING", "Entry", "listing", "state_json", "worktree_files"]

_VERSION = 3
JUDGE_BUDGET = 2.0  # seconds a listing spends judging files it has not seen: bounded per commit
_REGULAR = frozenset({pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE})

Judge = Callable[[str], str]  # path → "" when its history is trusted, else why not


class Entry(NamedTuple):
    """What one version of one task file says on the dashboard (a tuple: 10,000 of them
    are loaded and rendered on every commit)."""

    blob: str
    task_id: str = ""
    title: str = ""
    done: int = 0
    total: int = 0
    problem: str = ""  # "": listed; else why not ("refused: …", "unusable: …")
    head: str = ""  # its rendering that depends on nothing else (`Render`), kept with it


Render = Callable[[str, Entry], str]  # (path, entry) → `Entry.head`
PENDING = "not read yet: the dashboard reads a bounded number of new files per commit"
REFUSED = "refused: "


def _judged_trusted(entry: Entry) -> bool:
    """Whether the file was judged trusted (a parse error is judged after trust)."""
    return not entry.problem.startswith(REFUSED) and entry.problem != PENDING


@dataclass(frozen=True)
class _Cache:
    key: str  # what the entries depend on besides the bytes: trust, tasks_dir
    rows: dashcache.Rows[Entry]


def _cache_key(config: Config) -> str:
    return json.dumps([_VERSION, config.repo.tasks_dir, config.repo.dashboard,
                       list(config.trust or ())])


def _load(config: Config) -> _Cache:
    key = _cache_key(config)
    return _Cache(key, dashcache.load(Path(config.repo.state_dir), key, Entry._make))


# --- which files, which blobs --------------------------------------------------------------

def _walk(tree: pygit2.Tree, prefix: str) -> Iterable[tuple[str, str]]:
    for item in tree:
        name = prefix + (item.name or "")
        if isinstance(item, pygit2.Tree):
            yield from _walk(item, name + "/")
        elif item.filemode in _REGULAR and name.endswith(".md"):
            yield name, str(item.id)


def _committed(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str,
               cache: dashcache.Rows[Entry]) -> tuple[Mapping[str, str], dict[str, str | None] | None]:
    """Path → blob id of every task file in `tree`: the cached listing with the diff from
    the tree it was made of applied, and that diff (path → blob, None: gone); or a whole
    walk, and None."""
    if cache.files is not None and cache.tree == str(tree.id):
        return cache.files, {}
    old = repo.get(cache.tree) if cache.files is not None and cache.tree else None
    if not isinstance(old, pygit2.Tree):
        return dict(_walk(tree, prefix)), None
    diff: dict[str, str | None] = {}
    for delta in old.diff_to_tree(tree).deltas:
        path = prefix + delta.new_file.path
        diff[prefix + delta.old_file.path] = None
        if delta.status != pygit2.enums.DeltaStatus.DELETED and path.endswith(".md") \
                and delta.new_file.mode in _REGULAR:
            diff[path] = str(delta.new_file.id)
    files = dict(cache.files or {})
    for path, blob in diff.items():
        if blob is None:
            files.pop(path, None)
        else:
            files[path] = blob
    return files, diff


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
    status = gitwrite.git(["status", "--porcelain", "-z", "--no-renames",
                           "--untracked-files=all", "--", tasks_dir or "."], worktree, check=False)
    paths = [record[3:] for record in status.stdout.split("\0") if len(record) > 3]
    return worktree_files(worktree, paths, tasks_dir)


def _folder_files(worktree: Path, tasks_dir: str) -> dict[str, bytes | None]:
    """A folder that is no repository: every regular task file, read."""
    folder = worktree / tasks_dir
    found = sorted(folder.rglob("*.md")) if folder.is_dir() else []
    paths = [p.relative_to(worktree).as_posix() for p in found
             if p.is_file() and not p.is_symlink()]
    return {p: _read(worktree, p) for p in paths}


# --- what one file says ------------------------------------------------------------------

def _entry(path: str, blob: str, data: bytes | None, judge: Judge, render: Render) -> Entry:
    entry = _said(path, blob, data, judge)
    return entry._replace(head=render(path, entry))


def _said(path: str, blob: str, data: bytes | None, judge: Judge) -> Entry:
    why = judge(path)
    if why:
        return Entry(blob, problem=f"{REFUSED}{why}")
    if data is None:
        return Entry(blob, problem="unusable: not a regular file taskbot can read")
    try:
        task = parse_task(data, path)
    except TaskbotError as exc:
        return Entry(blob, problem=f"unusable: {exc}")
    done = sum(1 for c in task.criteria if c.checked)
    return Entry(blob, task.id, task.title, done, len(task.criteria))


def _judge(config: Config, repo: pygit2.Repository, head: str) -> Judge:
    own: frozenset[str] | None = None

    def judge(path: str) -> str:
        nonlocal own
        if own is None:  # read only when a file is judged: most commits judge none
            own = owncommits.load(config.repo.state_dir)
        try:
            verdict = check_file(repo, head, path, config, own)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            return f"its history cannot be read: {exc}"
        return "" if verdict.trusted else verdict.reason
    return judge


def _head(repo: pygit2.Repository) -> pygit2.Commit | None:
    try:
        return repo.head.peel(pygit2.Commit)
    except (pygit2.GitError, KeyError):
        return None


class _Listed(NamedTuple):
    committed: Mapping[str, str]  # path → blob at HEAD
    diff: dict[str, str | None] | None  # what changed in `committed` since the cache's tree
    changed: dict[str, bytes | None]  # path → uncommitted bytes
    tree: str  # tasks_dir's tree at HEAD, "" when there is none


def _sources(worktree: Path, repo: pygit2.Repository, head: pygit2.Commit, tasks_dir: str,
             cache: dashcache.Rows[Entry], changed: Sequence[str] | None) -> _Listed:
    try:
        tree = head.tree[tasks_dir] if tasks_dir else head.tree
    except KeyError:
        tree = None
    uncommitted = _uncommitted(worktree, tasks_dir) if changed is None else \
        worktree_files(worktree, changed, tasks_dir)
    if not isinstance(tree, pygit2.Tree):
        return _Listed({}, None, uncommitted, "")
    committed, diff = _committed(repo, tree, f"{tasks_dir}/" if tasks_dir else "", cache)
    return _Listed(committed, diff, uncommitted, str(tree.id))


def listing(config: Config, worktree: Path, render: Render, skip: str = "",
            changed: Sequence[str] | None = None) -> dict[str, Entry]:
    """Path → what it says, for every task file under tasks_dir in `worktree` as it would be
    committed now (`skip`: a path that is never a task, the dashboard). `changed`: the paths
    written since HEAD (the run's task file, where it moved), or None when unknown (then git
    is asked). Files not seen before are judged and read for at most JUDGE_BUDGET seconds;
    the rest say PENDING (path only) and are read by the next commits."""
    tasks_dir = config.repo.tasks_dir.strip("/")
    tasks_dir = "" if tasks_dir == "." else tasks_dir
    cache = _load(config)
    repo: pygit2.Repository | None = None
    head: pygit2.Commit | None = None
    try:
        repo = read.open_repo(worktree)
        head = _head(repo)
    except TaskbotError:
        pass
    if repo is None or head is None:
        files = _folder_files(worktree, tasks_dir)
        return {p: _entry(p, "", data, lambda _: "not in a git repository", render)
                for p, data in files.items() if p != skip}
    listed = _sources(worktree, repo, head, tasks_dir, cache.rows, changed)
    known = cache.rows.entries or {}
    out, pending, new = _entries(config, repo, str(head.id), listed, known, render, skip)
    gone = known.keys() - out.keys()
    if listed.tree and (new or gone or cache.rows.tree != listed.tree):
        dashcache.save(Path(config.repo.state_dir), cache.key,
                       dashcache.Rows(listed.tree, listed.committed, out), listed.diff or {},
                       {**new, **dict.fromkeys(gone)}, whole=listed.diff is None)
    return {**out, **pending}


def _entries(config: Config, repo: pygit2.Repository, head: str, listed: _Listed,
             known: Mapping[str, Entry], render: Render, skip: str
             ) -> tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]]:
    """(entries, pending, the entries new among them): known ones kept, new ones judged and
    read within the budget, the run's own files first. A file the run moved away (to
    completed/) or made no regular file is gone."""
    changed, committed = listed.changed, listed.committed
    written = {p: str(pygit2.hash(d)) for p, d in changed.items() if d is not None}
    out = {p: e for p, e in known.items() if p not in changed and committed.get(p) == e.blob}
    judge = _judge(config, repo, head)
    deadline = time.monotonic() + JUDGE_BUDGET
    pending: dict[str, Entry] = {}
    new: dict[str, Entry] = {}
    for path in [*written, *(p for p in committed if p not in out and p not in changed)]:
        blob, found = written.get(path) or committed[path], known.get(path)
        if path == skip:
            continue
        if found is not None and found.blob == blob:
            out[path] = found
        elif time.monotonic() > deadline:
            pending[path] = _unread(path, blob, render)
        else:
            data = changed[path] if path in changed else _blob(repo, blob)
            mine = path in written and _judged_at_head(found, committed.get(path))
            out[path] = new[path] = _entry(path, blob, data, _as_trusted if mine else judge,
                                           render)
    return out, pending, new


def _judged_at_head(found: Entry | None, committed: str | None) -> bool:
    """Whether the cached entry is the file as committed at HEAD and judged trusted: then
    taskbot's own edit of it, not committed yet, is too (`check_file` would judge the same
    history), and the run's task costs no history walk on each commit."""
    return found is not None and found.blob == committed and _judged_trusted(found)


def _as_trusted(_: str) -> str:
    return ""


def _unread(path: str, blob: str, render: Render) -> Entry:
    entry = Entry(blob, problem=PENDING)
    return entry._replace(head=render(path, entry))


def _blob(repo: pygit2.Repository, blob: str) -> bytes | None:
    found = repo.get(blob)
    return found.read_raw() if isinstance(found, pygit2.Blob) else None


def state_json(config: Config, name: str) -> dict[str, Any]:
    """A JSON document of the state dir (such as the status document), or {}."""
    try:
        data = json.loads(read_owned(Path(config.repo.state_dir) / name))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
