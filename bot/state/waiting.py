"""The store of tasks waiting on others: `state_dir/waiting.json`, so a restart keeps them.

One JSON object, task id → the ids (or paths) of the tasks it waits on, written whole
(temp file, fsync, rename) on every change and only when something changed. A missing,
unreadable or foreign-owned file reads as "nobody waits": the next run that finds a task
waiting records it again. This module only keeps the record; which push completes a
dependency, and whether a waiter is still worth running, the push stage decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from bot.atomic import write_atomic
from bot.state.statedir import WAITING, read_owned

__all__ = ["Waiting", "drop", "forget", "load", "remember", "save", "waiters_of"]

Waiting = dict[str, list[str]]


def _file(state_dir: Path | str) -> Path:
    return Path(state_dir) / WAITING


def load(state_dir: Path | str) -> Waiting:
    """Every waiting task and what it waits on; {} when there is no usable record."""
    try:
        data = json.loads(read_owned(_file(state_dir)))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(d) for d in v] for k, v in data.items() if isinstance(v, list)}


def save(state_dir: Path | str, waiting: Mapping[str, list[str]]) -> None:
    path = _file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(dict(waiting), indent=1, sort_keys=True).encode())


def remember(state_dir: Path | str, task_id: str, deps: Sequence[str]) -> None:
    """`task_id` waits on `deps` now; none: it waits no more (nothing written if it did not)."""
    waiting = load(state_dir)
    if deps:
        waiting[task_id] = list(deps)
    elif waiting.pop(task_id, None) is None:
        return
    save(state_dir, waiting)


def waiters_of(state_dir: Path | str, task_id: str) -> tuple[str, ...]:
    """The tasks that name `task_id` (any case) among what they wait on."""
    return tuple(t for t, deps in load(state_dir).items()
                 if task_id.lower() in (d.lower() for d in deps))


def forget(state_dir: Path | str, task_id: str) -> None:
    """`task_id` waits on nothing any more (it is run again, or gone)."""
    drop(state_dir, load(state_dir), (task_id,))


def drop(state_dir: Path | str, waiting: Mapping[str, list[str]], task_ids: Iterable[str]) -> None:
    """`waiting` (as loaded) without `task_ids`, saved when that removes any."""
    gone = set(task_ids) & set(waiting)
    if gone:
        save(state_dir, {t: d for t, d in waiting.items() if t not in gone})
