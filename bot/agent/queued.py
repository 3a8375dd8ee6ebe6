"""`run_task` while the daemon runs: the task is queued as a push would queue it again
(`rerun TASK-ID` in the spool), never run beside the daemon, and its report awaited.

The run is the daemon's: it is done when the daemon has taken the entry off the queue.
Its report is the task's newest stored one (a run id other than the one stored before
queueing); taskbot's commit is what the daemon recorded in status.json.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

from bot.daemon import spool, statusfile
from bot.daemon.wake import make_waker
from bot.errors import TaskbotError
from bot.notify import reportstore
from bot.notify.reportstore import StoredReport

__all__ = ["GRACE", "LOOK", "Queued", "Waited", "enqueue"]

LOOK = 5.0  # seconds at most between looks, should a wake-up be missed
GRACE = 2.0  # seconds after the entry went for the run's report and status to agree


class Waited(NamedTuple):
    entry: str  # the queue entry's name
    state: str  # queued | running | done
    report: StoredReport | None  # the run's report, once stored
    commit: str | None


def _last_run(state_dir: Path, task_id: str) -> str | None:
    try:
        return reportstore.last(state_dir, task_id).run_id
    except TaskbotError:
        return None


class Queued(NamedTuple):
    state_dir: Path
    task_id: str
    entry: Path
    before: str | None  # the task's last run id before it was queued

    def wait(self, wait_seconds: float) -> Waited:
        """Wait up to `wait_seconds` for the daemon's run of the entry to end."""
        deadline = time.monotonic() + wait_seconds
        # the daemon removes the entry once its run is over: woken by that, not by a clock
        # (watching before the first look, so the removal cannot fall between the two)
        waker = make_waker([self.entry.parent, self.state_dir])
        gone: float | None = None  # when the entry was first seen gone
        try:
            while True:
                waited = _look(self.state_dir, self.task_id, self.entry, self.before)
                now = time.monotonic()
                if waited.state == "done":
                    gone = now if gone is None else gone
                    # the report and status.json are written around the entry's removal:
                    # done once they agree, or after a grace for a run that stored none
                    if _caught_up(self.state_dir, self.task_id, waited):
                        return _look(self.state_dir, self.task_id, self.entry, self.before)
                    if now - gone > GRACE:
                        return waited
                if now >= deadline:
                    return waited
                waker.wait(min(LOOK, max(deadline - now, 0)))
        finally:
            waker.close()


def enqueue(state_dir: Path, task_id: str) -> Queued:
    """Queue the task for the daemon, as a push would queue it again."""
    before = _last_run(state_dir, task_id)
    return Queued(state_dir, task_id, spool.enqueue(state_dir, [f"rerun {task_id}"]), before)


def _look(state_dir: Path, task_id: str, entry: Path, before: str | None) -> Waited:
    if entry.exists():
        flight: Any = statusfile.read(state_dir).get("in_flight") or {}
        running = isinstance(flight, dict) and flight.get("entry") == entry.name
        return Waited(entry.name, "running" if running else "queued", None, None)
    report = None if _last_run(state_dir, task_id) == before else \
        reportstore.last(state_dir, task_id)
    task: Any = (statusfile.read(state_dir).get("tasks") or {}).get(task_id) or {}
    commit = task.get("commit") if report and task.get("run_id") == report.run_id else None
    return Waited(entry.name, "done", report, commit)


def _caught_up(state_dir: Path, task_id: str, waited: Waited) -> bool:
    """The daemon's status names the stored report's run: nothing more is coming."""
    if waited.report is None:
        return False
    task: Any = (statusfile.read(state_dir).get("tasks") or {}).get(task_id) or {}
    return bool(task.get("run_id") == waited.report.run_id)
