"""What the pipeline takes (a push, a task queued again), gives back (one `Processed` a
task), and shares while it carries one item through."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.git.pairdiff import Pair
from bot.pipeline.places import Places, Where
from bot.run.context import Handler
from bot.run.journal import Journal, TaskJournal
from bot.run.report import Report
from bot.state.memory import Memory

__all__ = ["Job", "OnStatus", "Processed", "Push", "Rerun", "RunTask", "step"]


@dataclass(frozen=True)
class Push:
    old: str
    new: str
    ref: str


@dataclass(frozen=True)
class Rerun:
    task_id: str


@dataclass(frozen=True)
class Processed:
    task_id: str
    report: Report | None
    commit: str | None
    reruns: tuple[str, ...] = ()
    message: str = ""


OnStatus = Callable[[str], None]  # one line on what the pipeline does now


@dataclass(frozen=True)
class Job:
    """One queued item's processing: what every task run of it shares."""

    config: Config
    places: Places
    handlers: Mapping[str, Handler]
    now: datetime
    should_stop: Callable[[], bool]
    on_status: OnStatus
    journal: Journal | None
    run_task: RunTask  # one task of the item (bot.pipeline.task.run)
    # a push's old and new trees compared once (None: a task queued again, a new branch):
    # detection, trust and the worktree's reset all ask what differs between them
    pair: Pair | None = None
    memory: Memory | None = None  # the process's caches (the daemon's); None: read afresh


# (the item's job, the task file, the criteria to run (None: all open), the commit it is read
# at, where taskbot works (None: looked up)) → what came of it
RunTask = Callable[[Job, str, tuple[int, ...] | None, str, Where | None], Processed]


def step(tj: TaskJournal | None, name: str, value: object = True) -> None:
    """Record a task's step in the item's journal, when there is one."""
    if tj is not None:
        tj.record(name, value)
