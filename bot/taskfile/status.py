"""When a task is complete: the one definition for runs, dependencies and pushes."""

from __future__ import annotations

from pathlib import PurePath

from bot.taskfile.model import Task

__all__ = ["COMPLETED_DIR", "in_completed_folder", "is_complete"]

COMPLETED_DIR = "completed"


def in_completed_folder(rel_path: str | PurePath) -> bool:
    """The file lies under a folder named `completed`, in any case (`Completed/` too)."""
    return any(part.lower() == COMPLETED_DIR for part in PurePath(rel_path).parts[:-1])


def is_complete(task: Task, rel_path: str | PurePath) -> bool:
    """Under a `completed` folder, or every criterion checked (`Task.complete`).

    A task without criteria is not complete by its boxes: nothing says its work is done,
    so a task waiting on it waits until it is moved to a `completed` folder.
    """
    return in_completed_folder(rel_path) or task.complete
