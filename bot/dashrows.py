"""The dashboard's rows: each task file under tasks_dir, judged and parsed once per content.

A commit re-reads only what changed. `<state_dir>/dashboard-rows.json` keeps, per path,
the blob id last seen there and what it said (id, title, criteria done, or why it is not
listed), and the id of the tasks_dir tree it listed: the next listing diffs that tree with
the new one (libgit2 skips every unchanged subtree) and overlays what taskbot changed in
its worktree and has not committed yet (`git status`). The cache is taskbot's own file;
when it is missing, unreadable or was made under another `[trust]`, everything is read
again.

A file is listed only when its whole history is trusted (`trust.check_file`, the rule a
file must meet to run) and it parses; otherwise it is one line saying why, and its title
and id — text from whoever pushed — are never shown. Judged once per (path, blob): the
same bytes reached again through another history count as the bytes a trusted person
wrote there. Trust is judged before the file is parsed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from bot import taskfile
from bot.atomic import write_atomic
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git import write as gitwrite
from bot.git.trust import check_file
from bot.statedir import read_owned

__all__ = ["CACHE", "JUDGE_BUDGET", "Entry", "listing", "state_json"]

CACHE = "dashboard-rows.json"
_VERSION = 2
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


@dataclass
class _Cache:
    key: str  # what the entries depend on besides the bytes: trust, tasks_dir
    tree: str = ""  # the tasks_dir tree `files` lists
    files: dict[str, str] | None = None  # path → blob id, as committed in `tree`
    entries: dict[str, Entry] | None = None


def _cache_key(config: Config) -> str:
    return json.dumps([_VERSION, config.repo.tasks_dir, config.repo.dashboard,
                       list(config.trust or ())])


def _load(config: Config) -> _Cache:
    key = _cache_key(config)
    try:
        doc = json.loads(read_owned(Path(config.repo.state_dir) / CACHE))
    except (OSError, ValueError):
        return _Cache(key)
    if not isinstance(doc, dict) or doc.get("key") != key:
        return _Cache(key)
    files, entries = doc.get("files"), doc.get("entries")
    if not isinstance(files, dict) or not isinstance(entries, dict):
        return _Cache(key)
    # taskbot's own file (read_owned): its shape is checked, not every value
    parsed = {p: Entry._make(raw) for p, raw in entries.items()
              if isinstance(raw, list) and len(raw) == len(Entry._fields)}
    return _Cache(key, str(doc.get("tree") or ""), files, parsed)


def _save(config: Config, cache: _Cache) -> None:
    """Best effort: a cache that cannot be written costs the next commit a full read."""
    doc = {"key": cache.key, "tree": cache.tree, "files": cache.files or {},
           "entries": cache.entries or {}}
    path = Path(config.repo.state_dir) / CACHE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(doc, separators=(",", ":")).encode("ascii"))
    except OSError:
        pass


# --- which files, which blobs --------------------------------------------------------------

def _walk(tree: pygit2.Tree, prefix: str) -> Iterable[tuple[str, str]]:
    for item in tree:
        name = prefix + (item.name or "")
        if isinstance(item, pygit2.Tree):
            yield from _walk(item, name + "/")
        elif item.filemode in _REGULAR and name.endswith(".md"):
            yield name, str(item.id)


def _committed(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, cache: _Cache
               ) -> dict[str, str]:
    """Path → blob id of every task file in `tree`: the cached listing with the diff from
    the tree it was made of applied, or a whole walk."""
    if cache.files is not None and cache.tree == str(tree.id):
        return dict(cache.files)
    old = repo.get(cache.tree) if cache.files is not None and cache.tree else None
    if not isinstance(old, pygit2.Tree):
        return dict(_walk(tree, prefix))
    files = dict(cache.files or {})
    for delta in old.diff_to_tree(tree).deltas:
        path = prefix + delta.new_file.path
        files.pop(prefix + delta.old_file.path, None)
        if delta.status != pygit2.enums.DeltaStatus.DELETED and path.endswith(".md") \
                and delta.new_file.mode in _REGULAR:
            files[path] = str(delta.new_file.id)
    return files


def _uncommitted(worktree: Path, tasks_dir: str) -> dict[str, bytes | None]:
    """What taskbot changed under tasks_dir and has not committed: path → bytes (None: gone,
    or no longer a regular file)."""
    status = gitwrite.git(["status", "--porcelain", "-z", "--no-renames",
                           "--untracked-files=all", "--", tasks_dir or "."], worktree, check=False)
    out: dict[str, bytes | None] = {}
    for record in status.stdout.split("\0"):
        path = record[3:]
        if len(record) < 4 or not path.endswith(".md"):
            continue
        try:
            out[path] = taskfile.read(worktree / path)
        except TaskbotError:
            out[path] = None
    return out


def _folder_files(worktree: Path, tasks_dir: str) -> dict[str, bytes | None]:
    """A folder that is no repository: every regular task file, read."""
    folder = worktree / tasks_dir
    out: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*.md")) if folder.is_dir() else ():
        if path.is_file() and not path.is_symlink():
            try:
                out[path.relative_to(worktree).as_posix()] = taskfile.read(path)
            except TaskbotError:
                out[path.relative_to(worktree).as_posix()] = None
    return out


# --- what one file says ------------------------------------------------------------------

def _entry(path: str, blob: str, data: bytes | None, judge: Judge, render: Render) -> Entry:
    entry = _said(path, blob, data, judge)
    return entry._replace(head=render(path, entry))


def _said(path: str, blob: str, data: bytes | None, judge: Judge) -> Entry:
    why = judge(path)
    if why:
        return Entry(blob, problem=f"refused: {why}")
    if data is None:
        return Entry(blob, problem="unusable: not a regular file taskbot can read")
    try:
        task = taskfile.parse(data, path)
    except TaskbotError as exc:
        return Entry(blob, problem=f"unusable: {exc}")
    done = sum(1 for c in task.criteria if c.checked)
    return Entry(blob, task.id, task.title, done, len(task.criteria))


def _judge(config: Config, repo: pygit2.Repository, head: str) -> Judge:
    own = owncommits.load(config.repo.state_dir)

    def judge(path: str) -> str:
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


def listing(config: Config, worktree: Path, render: Render, skip: str = "") -> dict[str, Entry]:
    """Path → what it says, for every task file under tasks_dir in `worktree` as it would be
    committed now (`skip`: a path that is never a task, the dashboard). Files not seen
    before are judged and read for at most JUDGE_BUDGET seconds; the rest say PENDING
    (path only) and are read by the next commits."""
    tasks_dir = config.repo.tasks_dir.strip("/")
    tasks_dir = "" if tasks_dir == "." else tasks_dir
    cache = _load(config)
    known = cache.entries or {}
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
    try:
        tree = head.tree[tasks_dir] if tasks_dir else head.tree
    except KeyError:
        tree = None
    committed = _committed(repo, tree, f"{tasks_dir}/" if tasks_dir else "", cache) \
        if isinstance(tree, pygit2.Tree) else {}
    changed = _uncommitted(worktree, tasks_dir)
    blobs = {**committed, **{p: str(pygit2.hash(d)) for p, d in changed.items() if d is not None}}
    judge = _judge(config, repo, str(head.id))
    deadline = time.monotonic() + JUDGE_BUDGET
    out: dict[str, Entry] = {}
    pending: dict[str, Entry] = {}
    for path in sorted(blobs, key=lambda p: p not in changed):  # the run's own task first
        blob = blobs[path]
        if path == skip or (path in changed and changed[path] is None):
            continue  # moved away (to completed/), or no longer a regular file
        found = known.get(path)
        if found is None or found.blob != blob:
            if time.monotonic() > deadline:
                pending[path] = _unread(path, blob, render)
                continue
            data = changed[path] if path in changed else _blob(repo, blob)
            found = _entry(path, blob, data, judge, render)
        out[path] = found
    if isinstance(tree, pygit2.Tree) and (out != known or cache.tree != str(tree.id)):
        _save(config, _Cache(cache.key, str(tree.id), committed, out))
    return {**out, **pending}


def _unread(path: str, blob: str, render: Render) -> Entry:
    entry = Entry(blob, problem=PENDING)
    return entry._replace(head=render(path, entry))


def _blob(repo: pygit2.Repository, blob: str) -> bytes | None:
    found = repo.get(blob)
    return found.read_raw() if isinstance(found, pygit2.Blob) else None


def state_json(config: Config, name: str) -> dict[str, Any]:
    """A JSON document of the state dir (status.json, waiting.json), or {}."""
    try:
        data = json.loads(read_owned(Path(config.repo.state_dir) / name))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

