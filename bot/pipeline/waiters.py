"""Tasks waiting on others (the store: bot/state/waiting.py): which ones a push made ready."""

from __future__ import annotations

from pathlib import Path

import pygit2

from bot.errors import TaskbotError
from bot.git.detect import changed_files
from bot.pipeline.places import Places
from bot.state import waiting as waiting_store
from bot.state.memory import Memory
from bot.taskfile.depstate import id_matches
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.shallow import open_boxes
from bot.taskfile.status import in_completed_folder, is_complete
from bot.taskfile.treeindex import find_in_tree

__all__ = ["completed_waiters", "may_complete", "stale"]


def completed_waiters(places: Places, repo: pygit2.Repository, old: str | None, new: str,
                      memory: Memory | None = None) -> tuple[str, ...]:
    """Waiting tasks whose dependency this push completed (ticked, or moved to completed/);
    `memory`: the process's, where the tree's listing is kept for every lookup."""
    waiting = waiting_store.load(places.state)
    if not waiting:
        return ()
    done: set[str] = set()
    for change in changed_files(repo, old, new, places.tasks_root):
        if change.error or change.path == places.dashboard:  # never a task
            continue
        try:
            task = parse_task(change.new, change.path)
        except TaskbotError:
            continue
        if is_complete(task, change.path):
            done.add(change.path)
            done.add(task.id)
    ready = [t for t, deps in waiting.items() if any(_names(d, p) for d in deps for p in done)]
    return _still_waiting(places, repo, new, waiting, ready, memory)


def may_complete(places: Places, repo: pygit2.Repository, old: str | None, new: str) -> bool:
    """A shallow look, for an untrusted range: could it have completed a task that others
    wait for (no open box left, or moved to a completed folder)?"""
    if not waiting_store.load(places.state):
        return False
    return any(not c.error and (in_completed_folder(c.path) or not open_boxes(c.new))
               for c in changed_files(repo, old, new, places.tasks_root))


def stale(found: tuple[str, bytes] | None) -> str:
    """Why a task queued again is not run ('' when it is): gone, unusable or complete."""
    if found is None:
        return "no task with this id"
    rel, data = found
    try:
        task = parse_task(data, rel)
    except TaskbotError as exc:
        return f"unusable ({exc})"
    return "already complete" if is_complete(task, rel) else ""


def _still_waiting(places: Places, repo: pygit2.Repository, tip: str,
                   waiting: dict[str, list[str]], ready: list[str], memory: Memory | None
                   ) -> tuple[str, ...]:
    """Of the waiters a push made ready, those whose file is still there and not complete;
    the others wait for nothing and are dropped quietly (only these are looked up: the
    cost follows the push, not the number of waiters)."""
    gone = {t for t in ready if stale(find_in_tree(repo, tip, places.tasks_dir, t, memory))}
    waiting_store.drop(places.state, waiting, gone)
    return tuple(t for t in ready if t not in gone)


def _names(task_id: str, id_or_path: str) -> bool:
    return task_id.lower() == id_or_path.lower() or (
        id_or_path.endswith(".md") and id_matches(Path(id_or_path), task_id))
