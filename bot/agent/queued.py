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
from bot.errors import TaskbotError
from bot.notify import reportstore
from bot.notify.reportstore import StoredReport

__all__ = ["POLL", "Queued", "Waited", "enqueue"]

POLL = 0.2  # seconds between looks at the queue and the reports


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
        while True:
            waited = _look(self.state_dir, self.task_id, self.entry, self.before)
            if waited.state == "done" or time.monotonic() >= deadline:
                return waited
            time.sleep(min(POLL, max(deadline - time.monotonic(), 0)))


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
