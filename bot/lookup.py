"""Finding task files by id, and whether a task's dependencies are complete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import taskfile
from bot.errors import TaskbotError, UsageError


@dataclass(frozen=True)
class DependencyState:
    task_id: str
    complete: bool
    where: str  # path found, or why not


def id_matches(path: Path, task_id: str) -> bool:
    stem = path.stem.lower()
    wanted = task_id.lower()
    return stem == wanted or bool(re.match(re.escape(wanted) + r"(?![A-Za-z0-9.])", stem))


def _candidates(root: Path) -> Iterator[Path]:
    if root.is_dir():
        yield from sorted(p for p in root.rglob("*.md") if p.is_file() or p.is_symlink())


def _find(root: Path, task_id: str) -> Path | None:
    named = [p for p in _candidates(root) if id_matches(p, task_id)]
    if named:
        return named[0]
    for path in _candidates(root):
        try:
            if taskfile.load(path).id.lower() == task_id.lower():
                return path
        except TaskbotError:
            continue
    return None


def find_task(arg: str, tasks_dir: Path) -> Path:
    """TASK is a path to a task file, or a task id looked up under `tasks_dir`."""
    given = Path(arg)
    if given.suffix == ".md" or given.exists():
        if not given.exists() and not given.is_symlink():
            raise UsageError(f"{arg}: no such task file")
        return given
    found = _find(tasks_dir, arg)
    if found is None:
        raise UsageError(f"{arg}: no task with this id under {tasks_dir}")
    return found


def tasks_root(task_path: Path) -> Path:
    """Where a task's siblings live: the folder above its own (`tasks/` for `tasks/active/x.md`)."""
    return task_path.resolve().parent.parent


def dependency_state(task_id: str, root: Path) -> DependencyState:
    found = _find(root, task_id)
    if found is None:
        return DependencyState(task_id, False, f"no task file for {task_id} under {root}")
    rel = found.relative_to(root)
    if taskfile.in_completed_folder(rel):  # complete even when it no longer parses
        return DependencyState(task_id, True, str(found))
    try:
        dep = taskfile.load(found)
    except TaskbotError as exc:
        return DependencyState(task_id, False, str(exc))
    if taskfile.is_complete(dep, rel):
        return DependencyState(task_id, True, str(found))
    if not dep.criteria:
        return DependencyState(task_id, False, f"no criteria to check in {found}")
    return DependencyState(task_id, False, f"{len(dep.unchecked)} criteria open in {found}")
