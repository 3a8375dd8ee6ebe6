"""The dashboard's rows: each task file under tasks_dir, judged and parsed once per content.

A commit re-reads only what changed, and nothing it does grows with the files outside
tasks_dir (`tasks/completed/`, where finished tasks go). The cache (`bot.dashboard.cache`: in the
state dir, kept in memory by the daemon) holds, per path, the blob id last seen there and
what it said (id, title, criteria done, or why it is not listed, and its rendered line),
and the id of the tasks_dir tree it listed: the next listing brings it to HEAD's tree
(`bot.dashboard.sources`) and overlays the files the run wrote and has not committed
(`changed`, from the pipeline; without it, `git status`). Only the paths that changed
since the last listing, kept in memory (`bot.dashboard.state`), are looked at, and each
moves between the sorted lists the table is cut from. When the cache is missing,
unreadable or was made under another `[trust]`, everything is read again; in a new
process (or after another wrote the cache) every entry is looked at once.

A file is listed only when its whole history is trusted (`trust.check_file`, the rule a
file must meet to run) and it parses; otherwise it is one line saying why, and its title
and id — text from whoever pushed — are never shown. Judged once per (path, blob): the
same bytes reached again through another history count as the bytes a trusted person
wrote there, and taskbot's own uncommitted edit of a file judged trusted as HEAD has it is
trusted too. Trust is judged before the file is parsed, against the own-commits record as
the process's `Memory` keeps it (only what was appended since is read), and with the
history reads it keeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from bot.config import Config
from bot.dashboard import cache as dashcache
from bot.dashboard import sources
from bot.dashboard.state import DashboardState, Listing, json_file
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git.trust import check_file
from bot.state.memory import Memory
from bot.taskfile.parse import parse as parse_task
from bot.text.textcap import name_problem

__all__ = ["JUDGE_BUDGET", "PENDING", "Entry", "at_head", "listing", "state_json"]

_VERSION = 4  # 4: a file refused for its name is a "refused" line
JUDGE_BUDGET = 2.0  # seconds a listing spends judging files it has not seen: bounded per commit

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


def _load(config: Config, state: DashboardState) -> _Cache:
    key = _cache_key(config)
    return _Cache(key, dashcache.load(state.row_cache, Path(config.repo.state_dir), key,
                                      Entry._make))


def at_head(config: Config, worktree: Path, state: DashboardState
            ) -> Callable[[str], str | None] | None:
    """HEAD's blob id of a task file in `worktree` as the listing kept knows it, without
    reading tasks_dir's tree (`unstaged.AtHead`; None for a file it does not hold: it may
    be one the listing skips, a symlink); None when the listing is not of HEAD's tree."""
    tasks_dir = sources.tasks_dir_of(config)
    kept = state.listing(config.repo.state_dir)
    if kept is None or not kept.reusable:
        return None
    try:
        head = _head(read.open_repo(worktree))
    except TaskbotError:
        return None
    cache = _load(config, state).rows
    tree = sources.tree_at(head, tasks_dir) if head is not None else None
    if tree is None or kept.rows is not cache or not isinstance(cache.files, dict):
        return None
    overlay: Mapping[str, str | None] = {}
    if cache.tree != str(tree.id):
        predicted = sources.predicted(config, head, cache, kept, state) \
            if head is not None else None
        if predicted is None:
            return None
        overlay = predicted
    files = cache.files
    prefix = f"{tasks_dir}/" if tasks_dir else ""

    def blob(path: str) -> str | None:
        if not path.startswith(prefix):
            return None
        return (overlay[path] or None) if path in overlay else files.get(path)
    return blob


# --- what one file says ------------------------------------------------------------------

def _entry(path: str, blob: str, data: bytes | None, judge: Judge, render: Render) -> Entry:
    entry = _said(path, blob, data, judge)
    return entry._replace(head=render(path, entry))


def _said(path: str, blob: str, data: bytes | None, judge: Judge) -> Entry:
    why = judge(path) or name_problem(path)  # refused for its name, as detection refuses it
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


def _judge(config: Config, repo: pygit2.Repository, head: str, memory: Memory | None
           ) -> Judge:
    own: frozenset[str] | None = None

    def judge(path: str) -> str:
        nonlocal own
        if own is None:  # read only when a file is judged: most commits judge none
            own = owncommits.load(config.repo.state_dir, memory)
        try:
            verdict = check_file(repo, head, path, config, own, memory=memory)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            return f"its history cannot be read: {exc}"
        return "" if verdict.trusted else verdict.reason
    return judge


def _head(repo: pygit2.Repository) -> pygit2.Commit | None:
    try:
        return repo.head.peel(pygit2.Commit)
    except (pygit2.GitError, KeyError):
        return None


def listing(config: Config, worktree: Path, render: Render, state: DashboardState,
            skip: str = "", changed: Sequence[str] | None = None,
            memory: Memory | None = None) -> Listing:
    """Every task file under tasks_dir in `worktree` as it would be committed now, by path
    and sorted by where its row goes (`skip`: a path that is never a task, the dashboard).
    `changed`: the paths written since HEAD (the run's task file, where it moved), or None
    when unknown (then git is asked). Only what changed since the last listing kept in
    `state` is looked at. Files not seen before are judged (with `memory`'s caches) and read
    for at most JUDGE_BUDGET seconds; the rest say PENDING (path only) and are read by the
    next commits."""
    tasks_dir = sources.tasks_dir_of(config)
    cache = _load(config, state)
    repo: pygit2.Repository | None = None
    head: pygit2.Commit | None = None
    try:
        repo = read.open_repo(worktree)
        head = _head(repo)
    except TaskbotError:
        pass
    if repo is None or head is None:
        files = sources.folder_files(worktree, tasks_dir)
        return Listing.made(dashcache.Rows(entries={
            p: _entry(p, "", data, lambda _: "not in a git repository", render)
            for p, data in files.items() if p != skip}), {}, (), reusable=False)
    kept = state.listing(config.repo.state_dir)
    listed = sources.sources(worktree, repo, head, tasks_dir, cache.rows, changed,
                             sources.predicted(config, head, cache.rows, kept, state))
    if kept is None or not kept.reusable or kept.rows is not cache.rows or listed.diff is None:
        kept = None  # made afresh: a new process, another's cache, or no tree to follow
    entries = cache.rows.entries if isinstance(cache.rows.entries, dict) and listed.tree \
        else dict(cache.rows.entries or {})  # no tree: nothing saved, the cache's kept as is
    walk = _candidates(listed, kept, entries)
    before = {p: kept.get(p) for p in walk} if kept is not None else {}
    pending = dict(kept.pending) if kept is not None else {}
    new, gone = _entries(_Reader(config, repo, str(head.id), render, skip, memory), listed,
                         walk, entries, pending)
    rows = cache.rows
    if listed.tree and (new or gone or cache.rows.tree != listed.tree):
        rows = dashcache.Rows(listed.tree, listed.committed, entries)
        dashcache.save(state.row_cache, Path(config.repo.state_dir), cache.key, rows,
                       listed.diff or {}, {**new, **dict.fromkeys(gone)},
                       whole=listed.diff is None)
    elif rows.entries is not entries:
        rows = dashcache.Rows(rows.tree, rows.files, entries)
    if kept is None:
        kept = Listing.made(rows, pending, listed.changed, reusable=bool(listed.tree))
    else:
        kept = _followed(kept, rows, pending, listed.changed, before)
    kept.made_at, kept.overlay = str(head.id), sources.overlay(repo, worktree, listed.changed)
    state.keep(config.repo.state_dir, kept)
    return kept


def _candidates(listed: sources.Listed, kept: Listing | None, entries: Mapping[str, Entry]
                ) -> list[str]:
    """The paths whose entry may differ from the last listing's, the run's own first (they
    are read first within the budget): what changed since, what the last one took from the
    worktree or left unread; every path when there is no last listing to follow."""
    written = [p for p, d in listed.changed.items() if d is not None]
    if kept is None:
        rest: set[str] = {*listed.committed, *listed.changed, *entries}
    else:
        rest = {*(listed.diff or {}), *listed.changed, *kept.overlaid, *kept.pending}
    return [*written, *sorted(rest.difference(written))]


def _followed(kept: Listing, rows: dashcache.Rows[Entry], pending: dict[str, Entry],
              overlaid: Mapping[str, object], before: Mapping[str, Entry | None]) -> Listing:
    """`kept` with what changed since: each path that changed moves between its lists."""
    kept.rows, kept.pending, kept.overlaid = rows, pending, frozenset(overlaid)
    for path, old in before.items():
        now = kept.get(path)
        if now is not old:
            kept.moved(path, old, now)
    return kept


class _Reader(NamedTuple):
    config: Config
    repo: pygit2.Repository
    head: str
    render: Render
    skip: str
    memory: Memory | None


def _entries(reader: _Reader, listed: sources.Listed, walk: Sequence[str],
             entries: dict[str, Entry], pending: dict[str, Entry]
             ) -> tuple[dict[str, Entry], list[str]]:
    """`entries` and `pending` brought up to date for the paths in `walk` (in place): known
    ones kept, new ones judged and read within the budget, in `walk`'s order. A file the
    run moved away (to completed/) or made no regular file is gone. (The entries new, the
    paths gone.)"""
    changed, committed = listed.changed, listed.committed
    judge = _judge(reader.config, reader.repo, reader.head, reader.memory)
    deadline = time.monotonic() + JUDGE_BUDGET
    new: dict[str, Entry] = {}
    gone: list[str] = []
    for path in walk:
        if path == reader.skip:
            continue
        data = changed.get(path)
        blob = (str(pygit2.hash(data)) if data is not None else None) if path in changed \
            else committed.get(path)
        found = entries.get(path)
        pending.pop(path, None)
        if found is not None and found.blob == blob:
            continue
        if found is not None:
            del entries[path]
            gone.append(path)
        if blob is None:
            continue
        if time.monotonic() > deadline:
            pending[path] = _unread(path, blob, reader.render)
            continue
        data = data if path in changed else _blob(reader.repo, blob)
        mine = path in changed and _judged_at_head(found, committed.get(path))
        entries[path] = new[path] = _entry(path, blob, data, _as_trusted if mine else judge,
                                           reader.render)
    return new, [p for p in gone if p not in entries]


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


def state_json(config: Config, name: str, state: DashboardState) -> dict[str, Any]:
    """A JSON document of the state dir (such as the status document), or {}: parsed again
    only when the file changed. Shared: read it, never change it."""
    path = Path(config.repo.state_dir) / name
    doc: dict[str, Any] = state.document(path, partial(json_file, path))
    return doc
