"""`repo.dashboard`: one Markdown file in the tasks repository that says where every task stands.

Renovate's Dependency Dashboard is the model: people read their tasks in the forge, so
taskbot keeps, in its own commits only, a table of the active tasks (criteria done, what
each waits on, its last run) and the `taskbot/<ID>` branches kept for a person. The file
sits outside tasks_dir (the config insists) and is never read as a task. It is written
only when its content changed, so a run that changes nothing else leaves it alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pygit2

from bot import taskfile
from bot.atomic import write_atomic
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import read
from bot.git import write as gitwrite
from bot.report import Report
from bot.statedir import read_owned

__all__ = ["MARKER", "Row", "in_commit", "kept_branches", "refresh", "render", "rows"]

MARKER = "<!-- taskbot dashboard: generated, edits are overwritten -->"
_NONE = "—"


@dataclass(frozen=True)
class Row:
    task_id: str
    title: str
    path: str  # repository-relative
    done: int
    total: int
    waits_on: tuple[str, ...] = ()
    last_run: str = ""  # "partial, 2024-05-01 12:00, commit abc123456789"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split()) or _NONE


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


def _state_json(config: Config, name: str) -> dict[str, Any]:
    try:
        data = json.loads(read_owned(Path(config.repo.state_dir) / name))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run_time(run_id: str) -> str:
    try:
        return f"{datetime.strptime(run_id[:15], '%Y%m%dT%H%M%S'):%Y-%m-%d %H:%M}"
    except ValueError:
        return ""


def rows(config: Config, worktree: Path, report: Report | None = None) -> tuple[Row, ...]:
    """Every task file under tasks_dir in `worktree`; `report` is the run being committed
    (its row says "this commit", status.json does not know it yet)."""
    folder = worktree / config.repo.tasks_dir
    tasks = dict(_state_json(config, "status.json").get("tasks") or {})
    waiting = _state_json(config, "waiting.json")
    out: list[Row] = []
    for path in sorted(folder.rglob("*.md")) if folder.is_dir() else ():
        rel = path.relative_to(worktree).as_posix()
        if rel == config.repo.dashboard or not path.is_file() or path.is_symlink():
            continue
        try:
            task = taskfile.load(path)
        except TaskbotError as exc:
            said = str(exc).replace(f"{worktree}/", "")  # the worktree's path is taskbot's own
            out.append(Row(path.stem, f"unusable: {said}", rel, 0, 0))
            continue
        done = sum(1 for c in task.criteria if c.checked)
        waits = tuple(str(d) for d in waiting.get(task.id) or ())
        entry = tasks.get(task.id)
        last = _last_run(entry) if isinstance(entry, dict) else ""
        if report is not None and report.task.id == task.id:
            waits = tuple(d.task_id for d in report.waiting_on)
            last = ", ".join(p for p in (report.result, _run_time(report.run_id),
                                         "this commit") if p)
        out.append(Row(task.id, task.title, rel, done, len(task.criteria), waits, last))
    return tuple(out)


def kept_branches(config: Config, where: Path | None = None) -> tuple[tuple[str, str], ...]:
    """(branch, sha) of the `taskbot/*` branches not merged into repo.branch: work kept for a
    person (a refused push, integrate = "branch"). `where`: the repository taskbot works in
    (its clone, or a worktree of it), whose `origin/<branch>` is the branch as it is now."""
    try:
        repo = read.open_repo(where or config.repo.path)
        main = (repo.references.get(f"refs/remotes/origin/{config.repo.branch}")
                or repo.references.get(f"refs/heads/{config.repo.branch}"))
        tip = main.peel(pygit2.Commit).id if main is not None else None
        out: list[tuple[str, str]] = []
        for name in sorted(repo.branches.local):
            if not name.startswith("taskbot/"):
                continue
            sha = repo.branches.local[name].peel(pygit2.Commit).id
            if tip is not None and (sha == tip or repo.descendant_of(tip, sha)):
                continue
            out.append((name, str(sha)))
        return tuple(out)
    except (TaskbotError, pygit2.GitError, KeyError, ValueError):
        return ()


def render(config: Config, table: Sequence[Row], branches: Sequence[tuple[str, str]]) -> str:
    here = Path(config.repo.dashboard).parent
    lines = [MARKER, "# Taskbot dashboard", "",
             f"Active tasks in `{config.repo.tasks_dir}` on `{config.repo.branch}`, as of "
             "taskbot's last commit.", ""]
    if table:
        lines += ["| Task | Title | Done | Waits on | Last run |",
                  "| --- | --- | --- | --- | --- |"]
        for r in table:
            link = Path(os.path.relpath(r.path, here)).as_posix()
            lines.append(f"| [{_cell(r.task_id)}]({link}) | {_cell(r.title)} | "
                         f"{r.done}/{r.total} | {_cell(', '.join(r.waits_on))} | "
                         f"{_cell(r.last_run)} |")
    else:
        lines.append("No active task.")
    lines += ["", "## Branches that need a person", ""]
    if branches:
        lines += [f"- `{name}` ({sha[:12]}): not merged into `{config.repo.branch}`"
                  for name, sha in branches]
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
