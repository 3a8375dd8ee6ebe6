"""The one way to watch a run: the terminal display of `taskbot run`, the daemon's log,
status.json and the progress notification all hear the same events.

One observer per thread of work, set with `watching()` (`fanout()` makes one of several);
the task run tells it which task runs and its actions, the runner when each criterion
starts and ends, `Context.run` which command runs and its latest output line. Each event
is emitted once, where it happens; nobody watching reads the task again. A context
variable rather than a parameter: the run passes through the pipeline, the task run and
the handlers, none of which needs to know that somebody looks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.run.runmodel import Action, Result

__all__ = ["Observer", "command", "current", "ended", "fanout", "running", "started",
           "watching"]


def _nothing(*_: object) -> None:
    pass


@dataclass(frozen=True)
class Observer:
    on_run: Callable[[str, Sequence[Action]], None] = _nothing  # task id (its file's), actions
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


def fanout(*observers: Observer) -> Observer:
    """One observer telling each of `observers` every event, in order; one that fails does
    not keep the event from the others."""
    if len(observers) == 1:
        return observers[0]
    readers = [obs.on_output for obs in observers if obs.on_output is not None]
    return Observer(on_run=_each([obs.on_run for obs in observers]),
                    on_start=_each([obs.on_start for obs in observers]),
                    on_end=_each([obs.on_end for obs in observers]),
                    on_command=_each([obs.on_command for obs in observers]),
                    on_output=_each(readers) if readers else None)


def _each(calls: Sequence[Callable[..., None]]) -> Callable[..., None]:
    def call(*args: Any) -> None:
        for one in calls:
            _safely(partial(one, *args))
    return call


def running(task_id: str, actions: Sequence[Action]) -> None:
    """A run of the task begins: its id as its file says, and the actions of the criteria
    that will run (not checked, held, unselected, manual or in error)."""
    obs = _CURRENT.get()
    if obs is not None:
        _safely(lambda: obs.on_run(task_id, actions))


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
