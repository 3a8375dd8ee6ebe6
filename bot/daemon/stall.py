"""The stall guard: an item that shows no sign of life for `limits.stall_timeout` is given up.

Signs of life come through `bot.heartbeat` (a command, or a handler's own wait,
announces its timeout, so a long build is not a stall) and the run's observer (criteria
starting and ending, status lines). While a criterion runs, its handler — installed
code, not pushed text — may be quiet as long as the configured command and build
timeouts; outside criteria (reading a push, committing) the budget is
`limits.stall_timeout`. A thread watches the deadline; when the item in flight is past it, `on_stall`
is called once. A thread cannot stop pure-Python work in the main thread, so the daemon
answers by recording the item as stalled and starting afresh (`bot.daemon.quarantine`).

The same thread answers a stop request that the main thread cannot hear: asked to stop
while the item has been quiet outside a command for `STOP_GRACE` (or half the stall
budget, when that is shorter), `on_stuck_stop` is called (the daemon exits; the journal
resumes the item at the next start).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["STOP_GRACE", "Guard", "Progress"]

STOP_GRACE = 10.0  # seconds a stop waits for an item quiet outside any command (at most)

Clock = Callable[[], float]


class Progress:
    """When the item in flight last showed a sign of life, and how long it may now be quiet.

    Written by the main thread, read by the guard's: single float assignments, so the
    reader sees either the old or the new value, both of which are sound."""

    def __init__(self, budget: float, clock: Clock = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._last: float | None = None  # None: no item in flight
        self._allowed = budget
        self._held = 0.0  # while a criterion runs: its handler's own waits are bounded

    def begin(self) -> None:
        self._allowed = self.budget
        self._held = 0.0
        self._last = self._clock()

    def beat(self, expect: float = 0.0) -> None:
        if self._last is not None:
            self._allowed = max(self.budget, self._held, expect)
            self._last = self._clock()

    def hold(self, seconds: float) -> None:
        """A criterion starts (`seconds`: how long its handler may wait without a sign of
        life: its timeouts) or ends (0)."""
        self._held = seconds
        self.beat()

    def end(self) -> None:
        self._last = None
        self._held = 0.0

    def quiet(self) -> float:
        """Seconds since the last sign of life; 0 when no item is in flight."""
        last = self._last
        return 0.0 if last is None else self._clock() - last

    def overdue(self) -> bool:
        last = self._last
        return last is not None and self._clock() - last > self._allowed

    def in_command(self) -> bool:
        """Whether the last sign of life announced a wait of its own (a command, a handler's
        network call) longer than the budget."""
        return self._allowed > max(self.budget, self._held)


class Guard:
    """A thread that calls `on_stall` once an item is overdue, and `on_stuck_stop` once a
    requested stop waits on an item quiet outside any command for its grace."""

    def __init__(self, progress: Progress, *, on_stall: Callable[[float], None],
                 stopping: Callable[[], bool], on_stuck_stop: Callable[[float], None],
                 interval: float | None = None) -> None:
        self._progress = progress
        self._on_stall = on_stall
        self._stopping = stopping
        self._on_stuck_stop = on_stuck_stop
        self._interval = interval or min(1.0, progress.budget / 4)
        self._grace = min(STOP_GRACE, progress.budget / 2)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="taskbot-stall-guard",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        progress = self._progress
        while not self._done.wait(self._interval):
            if progress.overdue():
                self._on_stall(progress.quiet())
                return
            stuck = self._stopping() and not progress.in_command()
            if stuck and progress.quiet() > self._grace:
                self._on_stuck_stop(progress.quiet())
                return
