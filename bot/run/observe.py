"""Who watches a run as it happens: the terminal display of `taskbot run`, the daemon's log
and status.json.

One observer per thread of work, set with `watching()`; the runner tells it when each
criterion starts and ends, `Context.run` which command runs and its latest output line.
A context variable rather than a parameter: the run passes through the pipeline, the task
run and the handlers, none of which needs to know that somebody looks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from bot.run.runmodel import Action, Result

__all__ = ["Observer", "command", "current", "ended", "started", "watching"]


def _nothing(*_: object) -> None:
    pass


@dataclass(frozen=True)
class Observer:
    on_start: Callable[[str, Action, int], None] = _nothing  # task id, criterion, attempt
    on_end: Callable[[str, Result, float], None] = _nothing  # task id, result, seconds
    on_command: Callable[[Sequence[str]], None] = _nothing  # argv, as it starts
    on_output: Callable[[str], None] | None = None  # last output line (a reader thread)


_CURRENT: ContextVar[Observer | None] = ContextVar("taskbot_observer", default=None)


def current() -> Observer | None:
    return _CURRENT.get()


@contextlib.contextmanager
def watching(observer: Observer) -> Iterator[Observer]:
    token = _CURRENT.set(observer)
    try:
        yield observer
    finally:
        _CURRENT.reset(token)


def _safely(call: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):  # a broken display must not fail the run
        call()


def started(task_id: str, action: Action, attempt: int) -> None:
    obs = _CURRENT.get()
    if obs is not None:
        _safely(lambda: obs.on_start(task_id, action, attempt))


def ended(task_id: str, result: Result, seconds: float) -> None:
    obs = _CURRENT.get()
    if obs is not None:
        _safely(lambda: obs.on_end(task_id, result, seconds))


def command(argv: Sequence[str]) -> Callable[[str], None] | None:
    """Tell the observer a command starts; its output callback (None: nobody reads it)."""
    obs = _CURRENT.get()
    if obs is None:
        return None
    _safely(lambda: obs.on_command(argv))
    return obs.on_output
