"""An item that shows no sign of life: given up on, set aside by the next process, or, while
stopping, not waited for (`stall.Guard` tells when; `quarantine` keeps the record)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.daemon import quarantine
from bot.daemon import spool as queue
from bot.daemon.contract import InFlightFn, QuarantineFn
from bot.daemon.logline import ERR, WARNING, log
from bot.daemon.sdnotify import Notifier
from bot.errors import TaskbotError
from bot.state.statedir import PID, STALLED
from bot.text.durations import format_duration

__all__ = ["give_up", "set_aside", "start_afresh", "stop_now"]

# What a failed item is told with: what, why, where it is kept, whether moving it back retries.
Notify = Callable[[str, str, Path, bool], None]


def start_afresh() -> None:
    """The same daemon, a new process image (same pid, so systemd and the pid file still
    name it): the only way to leave pure-Python work that does not return. Descriptors are
    close-on-exec, the state dir's lock with them."""
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606 -- its own argv, no shell
    except OSError as exc:
        log(f"cannot start afresh: {exc}; exiting for the service manager to restart", ERR)
        os._exit(70)  # EX_SOFTWARE: Restart=on-failure brings the daemon back


def give_up(state_dir: Path, in_flight: Mapping[str, Any] | None, status: str,
            stall_timeout: float, quiet: float, work: InFlightFn | None) -> None:
    """The guard's thread: the item in flight is recorded for a fresh daemon to set aside."""
    flight = dict(in_flight or {})
    doing = str(flight.get("status") or status)
    why = (f"no sign of life for {quiet:.0f}s (limits.stall_timeout is "
           f"{format_duration(stall_timeout)}) while: {doing}")
    what = str(flight.get("item") or "the resumed item")
    log(f"{what}: stalled: {why}; it is set aside and taskbot starts afresh", ERR)
    done = work() if work is not None else {}
    try:
        quarantine.record(state_dir, quarantine.Stalled(
            str(flight.get("entry", "")), str(flight.get("item", "")), why, done))
    except OSError as exc:
        log(f"cannot record the stalled item: {exc}", ERR)


def stop_now(state_dir: Path, notifier: Notifier, quiet: float) -> None:
    """The guard's thread: a stop waits on an item quiet outside any command; the
    journal resumes it at the next start, so leaving now loses nothing."""
    log(f"stopping now: the item in flight has shown no sign of life for {quiet:.0f}s; "
        "it resumes at the next start", WARNING)
    with contextlib.suppress(OSError):
        (state_dir / PID).unlink()
    notifier.stopping("stopping")
    os._exit(0)


def set_aside(state_dir: Path, journal_aside: QuarantineFn | None, notify: Notify) -> None:
    """At start: the item a stalled daemon gave up on goes to queue/failed/, its
    journal aside, and a notification says what was not run."""
    stalled = quarantine.load(state_dir)
    if stalled is None:
        return
    skipped = ""
    if journal_aside is not None:
        try:
            skipped = journal_aside(stalled.work)
        except (OSError, TaskbotError) as exc:
            log(f"cannot set the stalled item's journal aside: {exc}", ERR)
    what = stalled.line or "the resumed item"
    reason = f"stalled: {stalled.why}" + (f"; {skipped}" if skipped else "")
    kept = state_dir / STALLED
    for entry in queue.pending(state_dir):
        if stalled.entry and entry.name == stalled.entry and entry.lines[:1] == (stalled.line,):
            kept, _ = queue.fail_first(entry, reason)
    log(f"{what}: {reason}; kept in {kept}", ERR)
    notify(what, reason, kept, False)
    quarantine.clear(state_dir)
