"""What the daemon says of an item once it ran: one log line per task with its entry in
status.json, and a notification when an item failed as a whole."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bot.config import NotifyConfig
from bot.daemon import spool as queue
from bot.daemon import statusfile
from bot.daemon.logline import ERR, INFO, WARNING, log
from bot.errors import TaskbotError
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from bot.pipeline.items import Processed
from bot.text.mdescape import code_span, inline, link_markup

__all__ = ["notify_failure", "record", "set_aside"]


def record(results: Sequence[Processed], now: datetime, status: statusfile.StatusWriter
           ) -> list[str]:
    """Log each task's result and keep it in the task table; the task ids to queue again."""
    reruns: list[str] = []
    for p in results:
        reruns.extend(p.reruns)
        r = p.report
        if r is None:
            if p.message:
                log(f"{p.task_id}: {p.message}", WARNING)
            continue
        refused = r.run_id.endswith("-refused")
        if not refused:  # a refused file is no task's result: it never takes a task's line
            status.record(p.task_id, statusfile.task_entry(r, p.commit, now))
        log(f"{r.title}" + (f" (commit {p.commit[:12]})" if p.commit else " (no commit on the branch)")
            + (f": {p.message}" if p.message else ""),
            WARNING if refused or p.message else INFO)
    return reruns


def notify_failure(state_dir: Path, notify: NotifyConfig, what: str, reason: str,
                   target: Path, *, retry: bool = True) -> None:
    """A notification that `what` failed and where its entry is kept."""
    hint = "; move it back to `queue/` to retry." if retry else "."
    # The reason may quote a pushed file's name or a handler's words: text, never markup.
    message = Message(f"taskbot: {link_markup(what)} failed",
                      f"**{inline(what)}** failed: {inline(reason)}\n\n"
                      f"The entry is kept in {code_span(str(target))}{hint}", "blocked")
    try:
        Outbox(state_dir, notify).enqueue(message)
    except (OSError, ValueError) as exc:
        log(f"cannot queue the failure notification: {exc}", WARNING)


def set_aside(entry: queue.Entry, what: str, reason: str,
              notify: Callable[[str, str, Path], None]) -> None:
    """The failed item goes to queue/failed/ with its reason, and a notification says so."""
    try:
        target = queue.fail(entry, reason)
    except (OSError, TaskbotError) as exc:
        log(f"cannot move {entry.name} to queue/failed/: {exc}", ERR)
        return
    log(f"{what}: entry kept in {target} (move it back to queue/ to retry)", ERR)
    notify(what, reason, target)
