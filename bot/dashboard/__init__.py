"""`repo.dashboard`: one Markdown file in the tasks repository that says where every task stands.

Renovate's Dependency Dashboard is the model: people read their tasks in the forge, so
taskbot keeps, in its own commits only, a table of the active tasks (criteria done, what
each waits on, its last run) and the `taskbot/<ID>` branches kept for a person. The file
sits outside tasks_dir (the config insists) and is never read as a task. It is written
only when its content changed, so a run that changes nothing else leaves it alone.

Only files whose history is trusted and that parse get a row (`bot.dashboard.taskrows`, which re-reads
only what changed since the last commit); any other is one line under "Files not
listed", by its escaped path and why. Every cell, link and name is escaped (`mdescape`).
Each list is bounded (`OPEN_LISTED`, `COMPLETE_LISTED`, `PROBLEMS_LISTED`: the last by
path, and the task of the commit always) and the rest counted, so a commit builds and
writes a bounded table from the listing kept between commits (`bot.dashboard.state`) in
the process's `Memory`; given none, everything is read afresh, to the same bytes.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import pygit2

from bot.atomic import write_atomic
from bot.config import Config
from bot.dashboard import state as dashstate
from bot.dashboard import taskrows as dashrows
from bot.dashboard.state import DashboardState, Kind, Listing, kind, pick
from bot.errors import TaskbotError
from bot.git import read, unstaged
from bot.git import write as gitwrite
from bot.run.report import Report
from bot.state import waiting as waiting_store
from bot.state.memory import Memory
from bot.state.statedir import STATUS, WAITING
from bot.taskfile.source import read as read_task
from bot.text.durations import elapsed_text
from bot.text.mdescape import EMPTY_CELL, cell, code_span, inline, link_target
from bot.text.textcap import escape_controls

__all__ = ["COMPLETE_LISTED", "MARKER", "OPEN_LISTED", "PROBLEMS_LISTED", "Row", "committed", "in_commit",
           "kept_branches", "refresh", "render", "rows"]

MARKER = "<!-- taskbot dashboard: generated, edits are overwritten -->"


class Row(NamedTuple):
    task_id: str
    title: str
    path: str  # repository-relative
    done: int
    total: int
    waits_on: tuple[str, ...] = ()
    last_run: str = ""  # "partial, 2024-05-01 12:00, commit abc123456789"
    problem: str = ""  # not listed as a task: why ("refused: …", "unusable: …")
    head: str = ""  # its line up to "Waits on" (`_head`), or its whole line when a problem


def _minute(iso: object) -> str:
    try:
        return f"{datetime.fromisoformat(str(iso)):%Y-%m-%d %H:%M}"
    except ValueError:
        return str(iso or "")


def _last_run(entry: Mapping[str, Any]) -> str:
    return _said_last_run(str(entry.get("result") or "?"), str(entry.get("time") or ""),
                          str(entry.get("commit") or ""))


@functools.lru_cache(maxsize=16_384)  # status.json says the same of most tasks every commit
def _said_last_run(result: str, time: str, commit: str) -> str:
    parts = [result, _minute(time)]
    if commit:
        parts.append(f"commit {commit[:12]}")
    return ", ".join(p for p in parts if p)


def _run_time(run_id: str) -> str:
    try:
        return f"{datetime.strptime(run_id[:15], '%Y%m%dT%H%M%S'):%Y-%m-%d %H:%M}"
    except ValueError:
        return ""


def rows(config: Config, worktree: Path, report: Report | None = None,
         changed: Sequence[str] | None = None, memory: Memory | None = None
         ) -> tuple[Row, ...]:
    """Every task file under tasks_dir in `worktree`, sorted by path; `report` is the run
    being committed (its row says "this commit", status.json does not know it yet), `changed`
    the paths it wrote (None: git is asked). A file that is not trusted or cannot be parsed
    is a row with only its path and `problem`. The whole table: `refresh` builds only the
    rows it shows. `memory`: the process's, where the state between commits is kept."""
    state = dashstate.of(memory)
    listed = _listing(config, worktree, changed, state, memory)
    return _rows(config, listed, list(listed.paths()), report, state)


def _listing(config: Config, worktree: Path, changed: Sequence[str] | None,
             state: DashboardState, memory: Memory | None) -> Listing:
    here = Path(config.repo.dashboard).parent
    return dashrows.listing(config, worktree, partial(_head, here), state,
                            skip=config.repo.dashboard, changed=changed, memory=memory)


def _rows(config: Config, listed: Listing, paths: Sequence[str], report: Report | None,
          state: DashboardState) -> tuple[Row, ...]:
    """The rows of `paths`, with what each waits on and its last run: status.json and the
    waiting store are parsed again only when they changed, and looked up for these alone."""
    found = dashrows.state_json(config, STATUS, state).get("tasks")
    tasks = found if isinstance(found, dict) else _NONE
    state_dir = config.repo.state_dir
    waiting = state.document(Path(state_dir) / WAITING, partial(waiting_store.load, state_dir))
    before = state.built(state_dir)
    built: Built = {}
    out = tuple(_built(rel, listed.get(rel), (tasks, waiting), report, before, built)
                for rel in paths)
    state.keep_built(state_dir, built)
    return out


_NONE: Mapping[str, Any] = MappingProxyType({})
# the last table's rows by path: (entry, status tasks, waiting store, of this commit, row)
Built = dict[str, tuple[dashrows.Entry, object, object, bool, Row]]


def _built(rel: str, e: dashrows.Entry, docs: tuple[Mapping[str, Any], Mapping[str, Any]],
           report: Report | None, before: Built, built: Built) -> Row:
    """A row: the last table's when its entry (the same object, from the listing kept) and
    the documents it read are the same and neither is the row of a commit."""
    this = report is not None and not e.problem and report.task.id == e.task_id
    held = before.get(rel)
    if held is not None and held[0] is e and held[1] is docs[0] and held[2] is docs[1] \
            and not held[3] and not this:
        row = held[4]
    else:
        row = _row(_plain(rel, e), e, docs[0], docs[1], report)
    built[rel] = (e, docs[0], docs[1], this, row)
    return row


def _row(row: Row, e: dashrows.Entry, tasks: Mapping[str, Any], waiting: Mapping[str, Any],
         report: Report | None) -> Row:
    """`row` with what it waits on and its last run (status.json, or the run committed now)."""
    if e.problem:
        return row
    waits = tuple(str(d) for d in waiting.get(e.task_id) or ())
    entry = tasks.get(e.task_id)
    last = _last_run(entry) if isinstance(entry, dict) else ""
    if isinstance(entry, dict):
        waits += _approval(e.task_id, [a.get("digest") for a in entry.get("awaiting_approval")
                                       or () if isinstance(a, dict)])
    if report is not None and report.task.id == e.task_id:
        waits = tuple(d.task_id for d in report.waiting_on) + _approval(
            e.task_id, [p.digest for p in report.awaiting])
        last = ", ".join(p for p in (report.result, _run_time(report.run_id),
                                     "this commit") if p) + _groups(report)
    return row._replace(waits_on=waits, last_run=last) if waits or last else row


def _groups(report: Report) -> str:
    """The groups of the run committed now, each with its wall time, when several ran
    (`limits.parallel`): "; groups: FFL 6m12s, Triager 5m01s of 6m20s"."""
    if len(report.groups) < 2:
        return ""
    each = ", ".join(f"{g.name or 'Acceptance Criteria'} {elapsed_text(g.seconds)}"
                     for g in report.groups)
    return f"; groups: {each} of {elapsed_text(report.wall)}"


def _approval(task_id: str, digests: Sequence[object]) -> tuple[str, ...]:
    """What a row waits on when criteria wait for approval: the plans, and how to approve."""
    if not digests:
        return ()
    return (f"waiting for approval of plan {', '.join(str(d) for d in digests)} "
            f"(taskbot approve {task_id})",)


def _plain(rel: str, e: dashrows.Entry) -> Row:
    """A row as its entry says it (no waits, no last run)."""
    if e.problem:
        return Row("", "", rel, 0, 0, problem=e.problem, head=e.head)
    return Row(e.task_id, e.title, rel, e.done, e.total, head=e.head)


def _head(here: Path, path: str, e: dashrows.Entry | Row) -> str:
    """A row's text that depends on its file alone: kept with the file's entry, so an
    unchanged file costs no escaping on the next commit."""
    if e.problem:
        return f"- {inline(path)}: {inline(e.problem)}"
    link = link_target(os.path.relpath(path, here))
    return f"| [{cell(e.task_id)}]({link}) | {cell(e.title)} | {e.done}/{e.total} | "


def _line(here: Path, r: Row) -> str:
    head = r.head or _head(here, r.path, r)
    if r.problem:
        return head
    waits = cell(", ".join(r.waits_on)) if r.waits_on else EMPTY_CELL
    return f"{head}{waits} | {cell(r.last_run) if r.last_run else EMPTY_CELL} |"


def kept_branches(config: Config, where: Path | None = None) -> tuple[tuple[str, str], ...]:
    """(branch, sha) of the `taskbot/*` branches not merged into repo.branch: work kept for a
    person (a refused push, integrate = "branch"). `where`: the repository taskbot works in
    (its clone, or a worktree of it), whose `origin/<branch>` is the branch as it is now.
    The branch checked out in `where` is the one of the commit being made: it lands with
    that commit, never waits for a person."""
    try:
        repo = read.open_repo(where or config.repo.path)
        main = (repo.references.get(f"refs/remotes/origin/{config.repo.branch}")
                or repo.references.get(f"refs/heads/{config.repo.branch}"))
        tip = main.peel(pygit2.Commit).id if main is not None else None
        mine = repo.head.name if where is not None and not repo.head_is_detached else ""
        out: list[tuple[str, str]] = []
        for name in sorted(repo.branches.local):
            branch = repo.branches.local[name]
            if not name.startswith("taskbot/") or branch.name == mine:
                continue
            sha = branch.peel(pygit2.Commit).id
            if tip is not None and (sha == tip or repo.descendant_of(tip, sha)):
                continue
            out.append((name, str(sha)))
        return tuple(out)
    except (TaskbotError, pygit2.GitError, KeyError, ValueError):
        return ()


# Rows listed at most, the last by path (and the task of this commit always): the file people
# read, and what each commit renders and rewrites, stays small however many tasks there are.
OPEN_LISTED = 200  # an operator has about 30 open
COMPLETE_LISTED = 20  # finished tasks kept in tasks_dir (`on_complete = "keep"`)
PROBLEMS_LISTED = 50  # files not listed as a task


class Shown(NamedTuple):
    """What the dashboard shows of a listing: paths sorted, and how many of each are not."""

    tasks: list[str]
    problems: list[str]
    open_hidden: int
    complete_hidden: int
    problems_hidden: int


def _shown(lists: Mapping[Kind, Sequence[str]], this: Collection[str]) -> Shown:
    """Of sorted paths by kind, those shown: of the open and of the complete tasks the last
    by path and those of `this` (the task of this commit), of the problems the last."""
    opened = pick(lists["open"], OPEN_LISTED, this)
    complete = pick(lists["complete"], COMPLETE_LISTED, this)
    problems = pick(lists["problem"], PROBLEMS_LISTED)
    return Shown(sorted(opened + complete), sorted(problems), len(lists["open"]) - len(opened),
                 len(lists["complete"]) - len(complete), len(lists["problem"]) - len(problems))


def render(config: Config, table: Sequence[Row], branches: Sequence[tuple[str, str]]) -> str:
    """The dashboard of a whole table (`rows`), made from scratch: what `refresh` writes
    from the listing it keeps."""
    by_path = {r.path: r for r in table}
    lists: dict[Kind, list[str]] = {"open": [], "complete": [], "problem": []}
    for path in sorted(by_path):
        lists[kind(by_path[path])].append(path)
    this = {r.path for r in table if not r.problem and "this commit" in r.last_run}
    shown = _shown(lists, this)
    return _text(config, shown, [by_path[p] for p in shown.tasks],
                 [by_path[p] for p in shown.problems], branches)


def _rendered(config: Config, worktree: Path, report: Report | None,
              changed: Sequence[str] | None, memory: Memory | None) -> str:
    """The dashboard from the listing kept in `memory`: only the rows shown are built."""
    state = dashstate.of(memory)
    listed = _listing(config, worktree, changed, state, memory)
    shown = _shown(listed.lists, _this(listed, report))
    made = _rows(config, listed, shown.tasks + shown.problems, report, state)
    return _text(config, shown, list(made[:len(shown.tasks)]), list(made[len(shown.tasks):]),
                 kept_branches(config, worktree))


def _this(listed: Listing, report: Report | None) -> set[str]:
    """The rows of the task this commit ran, listed whatever the bounds: its own file (the
    pipeline names it by its path in the repository), else every file of its id."""
    if report is None:
        return set()
    if listed.get(report.task.path) is not None:
        return {report.task.path}
    return {p for p, e in listed.entries.items() if e.task_id == report.task.id}


def _text(config: Config, shown: Shown, tasks: Sequence[Row], others: Sequence[Row],
          branches: Sequence[tuple[str, str]]) -> str:
    """Every id, title, path and branch name comes from a push: each is escaped for where
    it stands (`mdescape`), so it renders as text and keeps to its cell."""
    here = Path(config.repo.dashboard).parent
    folder = code_span(config.repo.tasks_dir)
    lines = [MARKER, "# Taskbot dashboard", "",
             f"Active tasks in {folder} on {code_span(config.repo.branch)}, "
             "as of taskbot's last commit.", ""]
    if tasks:
        lines += ["| Task | Title | Done | Waits on | Last run |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [_line(here, r) for r in tasks]
    else:
        lines.append("No active task.")
    if shown.open_hidden:
        lines += ["", f"{shown.open_hidden:,} more open tasks are in {folder}, not listed: "
                  f"see the files in {folder}."]
    if shown.complete_hidden:
        lines += ["", f"{shown.complete_hidden:,} more complete tasks (every criterion "
                  f"checked) are in {folder}, not listed."]
    if others:
        lines += ["", "## Files not listed", ""]
        lines += [_line(here, r) for r in others]
    if shown.problems_hidden:
        lines += ["", f"{shown.problems_hidden:,} more such files are in {folder}, not shown."]
    lines += ["", "## Branches that need a person", ""]
    if branches:
        lines += [f"- {code_span(name)} ({sha[:12]}): not merged into "
                  f"{code_span(config.repo.branch)}" for name, sha in branches]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def committed(config: Config, sha: str, memory: Memory | None = None) -> None:
    """Taskbot committed `sha` right after `in_commit` refreshed the dashboard in it: the
    next listing with the same `memory` knows what changed in tasks_dir without reading its
    tree (with none, nothing is kept to tell)."""
    if memory is not None:
        dashstate.of(memory).committed(config.repo.state_dir, sha)


def in_commit(config: Config, worktree: Path, report: Report,
              changed: Sequence[str] | None = None, memory: Memory | None = None) -> bool:
    """Before taskbot commits in `worktree`: refresh the dashboard, but only when a commit
    is made anyway (a run that changed nothing makes no commit for the dashboard alone).
    `changed`: the paths the run wrote (its task file, where it moved it): only those are
    compared with HEAD, so the cost does not grow with the repository; None: `git status`.
    `memory`: the process's, where the state between commits is kept."""
    if not config.repo.dashboard:
        return False
    try:
        if changed is None:
            status = gitwrite.git(["status", "--porcelain"], worktree, check=False)
            if not status.ok or not status.stdout.strip():
                return False
        elif not unstaged.differs(worktree, changed,
                                  dashrows.at_head(config, worktree, dashstate.of(memory))):
            return False
        return refresh(config, worktree, report, changed, memory)
    except Exception as exc:  # a view never costs a run the commit of what it did
        dashstate.of(memory).forget(config.repo.state_dir)
        print(f"taskbot: {config.repo.dashboard} not refreshed in this commit: "
              f"{escape_controls(str(exc) or type(exc).__name__)}", file=sys.stderr, flush=True)
        return False


def refresh(config: Config, worktree: Path, report: Report | None = None,
            changed: Sequence[str] | None = None, memory: Memory | None = None) -> bool:
    """Write the dashboard into `worktree` when its content changed; True when written.
    `changed` and `memory` as for `in_commit`."""
    if not config.repo.dashboard:
        return False
    target = worktree / config.repo.dashboard
    if _linked_folder(worktree, target):
        return False  # a pushed symlink on the way: writing would land outside the worktree
    data = _rendered(config, worktree, report, changed, memory).encode("utf-8")
    if target.is_symlink():  # never written through a link a push planted
        target.unlink()
    elif target.exists():
        try:  # bounded, and a folder or device raises: a push can put one there
            current = read_task(target)
        except TaskbotError:
            return False
        if current == data or not current.startswith(MARKER.encode()):
            return False  # unchanged, or a person's file (a task): never written over
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data, 0o644)
    return True


def _linked_folder(worktree: Path, target: Path) -> bool:
    """Whether a folder between the worktree and the dashboard is a symlink (anyone who can
    push can commit one: `docs -> /var/lib/taskbot/…`)."""
    folder = target.parent
    while folder != worktree and worktree in folder.parents:
        if folder.is_symlink():
            return True
        folder = folder.parent
    return False
