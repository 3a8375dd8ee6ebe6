"""`list_tasks`: every task in the folders of the tasks root (the active folder's parent:
active, backlog, completed, …) — as repo.branch has it when the repository is a git one
(hook mode: no checkout), else the folder on disk — with its open criteria and what it
waits for.

What a task waits for is judged as `plan` judges it (`lookup.waiting_dependencies`, from the
same tree), and the plans waiting for approval are those the last run reported
(status.json). A file that cannot be read is a row with its `error`, never a failure of
the whole list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from bot.commands.common import tasks_dir
from bot.config import Config
from bot.errors import TaskbotError
from bot.git.read import GitError, open_repo
from bot.state.memory import Memory
from bot.taskfile import source
from bot.taskfile.lookup import State, TaskIndex, dependency_state, waiting_dependencies
from bot.taskfile.model import DependencyState, Task
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.treeindex import task_files, tree_dependency_state

__all__ = ["listing"]

Reader = Callable[[], bytes | None]
# (path relative to the tasks root, path as shown, reader, dependency lookup)
Source = Iterator[tuple[PurePosixPath, str, Reader, State]]


def listing(config: Config, folder: str, status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row a task file, in path order; only `folder` (like `active`) when given.
    `status`: status.json's `tasks`, for the plans waiting for approval."""
    rows = []
    for rel, shown, read, state in _files(config):
        # tasks live in the root's folders; beside them: a README, the dashboard
        if len(rel.parts) < 2 or (folder and rel.parts[0] != folder):
            continue
        rows.append(_row(rel, shown, read, state, status))
    return rows


def _files(config: Config) -> Source:
    try:
        repo = open_repo(config.repo.path)
    except GitError:
        repo = None
    if repo is None:
        yield from _on_disk(tasks_dir(config).parent)
        return
    branch = config.repo.branch
    root = str(PurePosixPath(config.repo.tasks_dir).parent)
    memory = Memory()  # the tree listed once: for the rows and every dependency they name

    def state(dep: str, waiter: str) -> DependencyState:
        return tree_dependency_state(repo, branch, root, dep, waiter, memory)

    for rel, read in task_files(repo, branch, root, memory):
        inner = PurePosixPath(rel).relative_to(root) if root != "." else PurePosixPath(rel)
        yield inner, f"{branch}:{rel}", read, state


def _on_disk(root: Path) -> Source:
    index = TaskIndex(root)  # listed once: for the rows and every dependency they name

    def state(dep: str, waiter: str) -> DependencyState:
        return dependency_state(dep, root, waiter, index=index)

    for folder, name in sorted(index.files()):
        path = Path(folder, name)
        # as a run reads it: no symlink followed, no FIFO waited on, at most 1 MiB
        yield (PurePosixPath(path.relative_to(root).as_posix()), str(path),
               partial(source.read, path), state)


def _row(rel: PurePosixPath, shown: str, read: Reader, state: State,
         status: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": rel.stem, "title": "", "status": "", "priority": "",
                           "folder": rel.parts[0],
                           "path": shown, "criteria": 0, "open": [], "waits_for": []}
    try:
        data = read()
        if data is None:
            raise TaskbotError("larger than 1 MiB")
        task = parse_task(data, shown)
        waiting = waiting_dependencies(task, Path(str(rel)), state=state)
    except (TaskbotError, OSError) as exc:
        return {**row, "error": str(exc)}
    return {**row, **_task_fields(task), "waits_for": [
        *(f"{w.task_id}: {w.where}" for w in waiting),
        *_approvals(status.get(task.id))]}


def _task_fields(task: Task) -> dict[str, Any]:
    front = task.frontmatter
    return {"id": task.id, "title": task.title, "status": str(front.get("status") or ""),
            "priority": str(front.get("priority") or ""), "criteria": len(task.criteria),
            "open": [c.text for c in task.unchecked]}


def _approvals(entry: object) -> Iterator[str]:
    """The plans the task's last run left waiting for approval (status.json)."""
    awaiting = entry.get("awaiting_approval") if isinstance(entry, Mapping) else None
    for a in awaiting if isinstance(awaiting, list) else ():
        if isinstance(a, Mapping):
            yield f"approval of plan {a.get('digest')}: {a.get('criterion')}"
