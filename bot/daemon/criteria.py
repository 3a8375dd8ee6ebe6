"""The criterion in flight, as the daemon tells it: a log line when it starts and ends, its
text and command in status.json's `in_flight`, and the stall guard's budget while it runs."""

from __future__ import annotations

import shlex
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


class CriterionLog:
    def __init__(self, limits: Limits, progress: Progress,
                 flight: Callable[[], dict[str, Any] | None],
                 publish: Callable[[], None]) -> None:
        self._limits = limits
        self._progress = progress
        self._flight = flight  # the item in flight, if any: its dict is updated in place
        self._publish = publish

    def observer(self) -> observe.Observer:
        return observe.Observer(on_start=self._started, on_end=self._ended,
                                on_command=self._command)

    def _started(self, task_id: str, action: Action, attempt: int) -> None:
        self._progress.hold(max(self._limits.command_timeout, self._limits.build_timeout))
        text = action.criterion.text
        again = f" (attempt {attempt})" if attempt > 1 else ""
        log(f"{task_id}: started \"{text}\"{again}")
        flight = self._flight()
        if flight is not None:
            flight.update(task=task_id, criterion=text, command="", criterion_since=iso(now()))
            self._publish()

    def _command(self, argv: Sequence[str]) -> None:
        flight = self._flight()
        if flight is not None and flight.get("criterion"):
            flight["command"] = shlex.join(argv)
            self._publish()

    def _ended(self, task_id: str, result: Result, seconds: float) -> None:
        self._progress.hold(0.0)
        level = {State.FAILED: ERR, State.BLOCKED: WARNING,
                 State.INTERRUPTED: WARNING}.get(result.state, INFO)
        why = f": {result.reason}" if result.state is not State.DONE and result.reason else ""
        log(f"{task_id}: {result.state.value} \"{result.action.criterion.text}\" in "
            f"{seconds:.1f}s{why}", level)
        flight = self._flight()
        if flight is not None:
            for key in ("task", "criterion", "command", "criterion_since"):
                flight.pop(key, None)
            self._publish()
