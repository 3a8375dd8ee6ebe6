"""The criteria in flight, as the daemon tells them: a log line when each starts and ends,
their text and command in status.json's `in_flight`, and the stall guard's budget while
any runs.

Groups of a task run side by side (`bot.run.lanes`): `in_flight.criteria` lists every
criterion running, oldest first, with its command; `criterion`, `command` and
`criterion_since` name the oldest (what a reader of one criterion at a time looks for);
`progress` counts the run's criteria done, in flight and left, as the progress
notification does. Events come from the groups' threads: the daemon's status lock keeps the record whole.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import Limits
from bot.daemon.logline import ERR, INFO, WARNING, log
from bot.daemon.stall import Progress
from bot.daemon.statusdoc import iso, now
from bot.run import observe
from bot.run.actions import Action
from bot.run.runner import Result, State

__all__ = ["CriterionLog"]

_KEYS = ("task", "criterion", "command", "criterion_since", "criteria", "progress")


class CriterionLog:
    def __init__(self, limits: Limits, progress: Progress,
                 flight: Callable[[], dict[str, Any] | None],
                 publish: Callable[[], None], lock: threading.RLock) -> None:
        self._limits = limits
        self._progress = progress
        self._flight = flight  # the item in flight, if any: its dict is updated in place
        self._publish = publish
        self._lock = lock  # the daemon's, which its status writes hold
        self._running: dict[int, dict[str, str]] = {}  # criterion index → its entry
        self._threads: dict[int, int] = {}  # thread → the criterion it runs
        self._todo = 0
        self._done = 0

    def observer(self) -> observe.Observer:
        return observe.Observer(on_run=self._run, on_start=self._started,
                                on_end=self._ended, on_command=self._command)

    def _run(self, task_id: str, actions: Sequence[Action]) -> None:
        with self._lock:
            self._running.clear()
            self._threads.clear()
            self._todo = len(actions)  # those that will run (observe.running)
            self._done = 0

    def _started(self, task_id: str, action: Action, attempt: int) -> None:
        text = action.criterion.text
        again = f" (attempt {attempt})" if attempt > 1 else ""
        log(f"{task_id}: started \"{text}\"{again}")
        with self._lock:
            self._progress.hold(max(self._limits.command_timeout, self._limits.build_timeout))
            index = action.criterion.index
            kept = self._running.get(index, {})
            self._running[index] = {"task": task_id, "criterion": text, "command": "",
                                    "since": kept.get("since") or iso(now())}
            self._threads[threading.get_ident()] = index
            self._show()

    def _command(self, argv: Sequence[str]) -> None:
        with self._lock:
            entry = self._running.get(self._threads.get(threading.get_ident(), -1))
            if entry is None and len(self._running) == 1:
                entry = next(iter(self._running.values()))
            if entry is not None:
                entry["command"] = shlex.join(argv)
                self._show()

    def _ended(self, task_id: str, result: Result, seconds: float) -> None:
        level = {State.FAILED: ERR, State.BLOCKED: WARNING,
                 State.INTERRUPTED: WARNING}.get(result.state, INFO)
        why = f": {result.reason}" if result.state is not State.DONE and result.reason else ""
        log(f"{task_id}: {result.state.value} \"{result.action.criterion.text}\" in "
            f"{seconds:.1f}s{why}", level)
        with self._lock:
            if self._running.pop(result.action.criterion.index, None) is not None:
                self._done += 1
            self._threads.pop(threading.get_ident(), None)
            if not self._running:
                self._progress.hold(0.0)
            self._show()

    def _show(self) -> None:
        """The record in status.json's `in_flight`, published."""
        flight = self._flight()
        if flight is None:
            return
        for key in _KEYS:
            flight.pop(key, None)
        if self._running:
            entries = sorted(self._running.values(), key=lambda e: e["since"])
            first = entries[0]
            flight.update(task=first["task"], criterion=first["criterion"],
                          command=first["command"], criterion_since=first["since"])
            if len(entries) > 1:
                flight["criteria"] = [dict(e) for e in entries]
            left = max(self._todo - self._done - len(entries), 0)
            flight["progress"] = {"done": self._done, "in_flight": len(entries), "left": left}
        self._publish()
