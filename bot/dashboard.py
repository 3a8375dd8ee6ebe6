"""`repo.dashboard`: one Markdown file in the tasks repository that says where every task stands.

Renovate's Dependency Dashboard is the model: people read their tasks in the forge, so
taskbot keeps, in its own commits only, a table of the active tasks (criteria done, what
each waits on, its last run) and the `taskbot/<ID>` branches kept for a person. The file
sits outside tasks_dir (the config insists) and is never read as a task. It is written
only when its content changed, so a run that changes nothing else leaves it alone.

Only files whose history is trusted and that parse get a row (`dashrows`, which re-reads
only what changed since the last commit); any other is one line under "Files not
listed", by its escaped path and why. Every cell, link and name is escaped (`mdescape`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from bot import dashrows, taskfile
from bot.atomic import write_atomic
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import read
from bot.git import write as gitwrite
from bot.mdescape import EMPTY_CELL, cell, code_span, inline, link_target
from bot.report import Report

__all__ = ["MARKER", "Row", "in_commit", "kept_branches", "refresh", "render", "rows"]

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
    parts = [str(entry.get("result") or "?"), _minute(entry.get("time"))]
    if entry.get("commit"):
        parts.append(f"commit {str(entry['commit'])[:12]}")
    return ", ".join(p for p in parts if p)


def _run_time(run_id: str) -> str:
    try:
        return f"{datetime.strptime(run_id[:15], '%Y%m%dT%H%M%S'):%Y-%m-%d %H:%M}"
    except ValueError:
        return ""


def rows(config: Config, worktree: Path, report: Report | None = None) -> tuple[Row, ...]:
    """Every task file under tasks_dir in `worktree`, sorted by path; `report` is the run
    being committed (its row says "this commit", status.json does not know it yet). A file
    that is not trusted or cannot be parsed is a row with only its path and `problem`."""
    tasks = dict(dashrows.state_json(config, "status.json").get("tasks") or {})
    waiting = dashrows.state_json(config, "waiting.json")
    here = Path(config.repo.dashboard).parent
    listed = dashrows.listing(config, worktree, partial(_head, here), skip=config.repo.dashboard)
    out: list[Row] = []
    for rel in sorted(listed):
        e = listed[rel]
        if e.problem:
            out.append(Row("", "", rel, 0, 0, problem=e.problem, head=e.head))
            continue
        waits = tuple(str(d) for d in waiting.get(e.task_id) or ())
        entry = tasks.get(e.task_id)
        last = _last_run(entry) if isinstance(entry, dict) else ""
        if report is not None and report.task.id == e.task_id:
            waits = tuple(d.task_id for d in report.waiting_on)
            last = ", ".join(p for p in (report.result, _run_time(report.run_id),
                                         "this commit") if p)
        out.append(Row(e.task_id, e.title, rel, e.done, e.total, waits, last, head=e.head))
    return tuple(out)


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


def render(config: Config, table: Sequence[Row], branches: Sequence[tuple[str, str]]) -> str:
    """The dashboard. Every id, title, path and branch name comes from a push: each is
    escaped for where it stands (`mdescape`), so it renders as text and keeps to its cell."""
    here = Path(config.repo.dashboard).parent
    tasks = [r for r in table if not r.problem]
    others = [r for r in table if r.problem]
    lines = [MARKER, "# Taskbot dashboard", "",
             f"Active tasks in {code_span(config.repo.tasks_dir)} on "
             f"{code_span(config.repo.branch)}, "
             "as of taskbot's last commit.", ""]
    if tasks:
        lines += ["| Task | Title | Done | Waits on | Last run |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [_line(here, r) for r in tasks]
    else:
        lines.append("No active task.")
    if others:
        lines += ["", "## Files not listed", ""]
        lines += [_line(here, r) for r in others]
    lines += ["", "## Branches that need a person", ""]
    if branches:
        lines += [f"- {code_span(name)} ({sha[:12]}): not merged into "
                  f"{code_span(config.repo.branch)}" for name, sha in branches]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def in_commit(config: Config, worktree: Path, report: Report) -> bool:
    """Before taskbot commits in `worktree`: refresh the dashboard, but only when a commit
    is made anyway (a run that changed nothing makes no commit for the dashboard alone)."""
    if not config.repo.dashboard:
        return False
    status = gitwrite.git(["status", "--porcelain"], worktree, check=False)
    if not status.ok or not status.stdout.strip():
        return False
    return refresh(config, worktree, report)


def refresh(config: Config, worktree: Path, report: Report | None = None) -> bool:
    """Write the dashboard into `worktree` when its content changed; True when written."""
    if not config.repo.dashboard:
        return False
    target = worktree / config.repo.dashboard
    if _linked_folder(worktree, target):
        return False  # a pushed symlink on the way: writing would land outside the worktree
    data = render(config, rows(config, worktree, report),
                  kept_branches(config, worktree)).encode("utf-8")
    if target.is_symlink():  # never written through a link a push planted
        target.unlink()
    elif target.exists():
        try:  # bounded, and a folder or device raises: a push can put one there
            current = taskfile.read(target)
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
