"""`plan TASK-ID` for a task outside the active folder: found where the dependency lookup
looks (the active folder's parent: `tasks/backlog/`, `tasks/completed/`, …), and said so.

taskbot runs only tasks in the active folder, so a plan of a backlog task says it will run
once moved there, and one of a completed task that it will not run.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import UsageError
from bot.taskfile.lookup import find_task
from bot.taskfile.status import in_completed_folder


def find_elsewhere(task_id: str, active: Path) -> Path | None:
    """The task's file under the active folder's parent, outside the active folder, or None."""
    try:
        found = find_task(task_id, active.parent)
    except UsageError:
        return None
    return None if found.resolve().is_relative_to(active.resolve()) else found


def where_said(path: Path, active: Path) -> str:
    """Where the task is, and whether it will run ("" in the active folder)."""
    try:
        rel = path.resolve().relative_to(active.resolve().parent)
    except ValueError:
        return ""
    if rel.parts[:1] == (active.name,) or len(rel.parts) < 2:
        return ""
    folder = f"{rel.parent.as_posix()}/"
    if in_completed_folder(rel):
        return f"in {folder}: a completed task; taskbot does not run it"
    return f"in {folder}: it will run once moved to {active.name}/"
