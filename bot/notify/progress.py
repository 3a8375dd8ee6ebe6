"""One progress notification for a run still going past `limits.run_soft_limit`.

A `ProgressWatch` hears the run's own events through its `observer()` (`bot.run.observe`):
the task and its actions as the run read them, which criterion is in flight and which
attempt, how each ended; it never reads the task itself. A timer started with the run
fires once, past the soft limit, and sends what is done so far, what is in flight and what
is left; the run cancels it when it ends. A watch without a sender is inert: no timer.
The task id and criteria come from a push: redacted, then escaped as Markdown
(`mdescape.markup`), so they render as text.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from bot.config import Config
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from bot.run.context import Context
from bot.run.observe import Observer
from bot.run.runmodel import Action, Outcome, Result, Status
from bot.text.durations import format_duration
from bot.text.mdescape import markup
from bot.text.textcap import clean

__all__ = ["ProgressWatch", "outbox_sender", "watch"]

Send = Callable[[str, str], None]  # (title, Markdown body)

_MARK = {Status.DONE: "✅", Status.FAILED: "❌", Status.BLOCKED: "⛔"}


@dataclass
class _Criterion:
    text: str
    attempt: int = 0
    started: float = 0.0
    outcome: Outcome | None = None  # once it ended


class ProgressWatch:
    def __init__(self, task_id: str, soft_limit: float, send: Send | None,
                 redact: Callable[[str], str] = str,
                 clock: Callable[[], float] = time.monotonic, before: float = 0.0) -> None:
        self.task_id = task_id
        self._before = max(before, 0.0)  # seconds the run ran before a restart resumed it
        self.soft_limit = soft_limit
        self._send = send
        self._redact = redact
        self._clock = clock
        self._lock = threading.Lock()
        self._criteria: dict[int, _Criterion] = {}
        self._flight: set[int] = set()  # criteria in flight: groups run side by side
        self._timer: threading.Timer | None = None
        self._started = clock()
        self.sent = False

    # --- the run's events --------------------------------------------------------------

    def observer(self) -> Observer:
        return Observer(on_run=self._run, on_start=self._start, on_end=self._end)

    def _run(self, task_id: str, actions: Sequence[Action]) -> None:
        """The criteria the run will execute (observe.running names only those)."""
        with self._lock:
            self.task_id = task_id
            self._criteria = {a.criterion.index: _Criterion(a.criterion.text) for a in actions}

    def _start(self, task_id: str, action: Action, attempt: int) -> None:
        with self._lock:
            index = action.criterion.index
            state = self._criteria.setdefault(index, _Criterion(action.criterion.text))
            state.attempt, state.started = attempt, self._clock()
            self._flight.add(index)

    def _end(self, task_id: str, result: Result, seconds: float) -> None:
        with self._lock:
            index = result.action.criterion.index
            if index in self._flight:  # it ran: not one that never started
                self._criteria[index].outcome = result.outcome
                self._flight.discard(index)

    # --- the timer ---------------------------------------------------------------------

    def __enter__(self) -> ProgressWatch:
        self._started = self._clock() - self._before
        if self._send is not None:
            self._timer = threading.Timer(max(self.soft_limit - self._before, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()  # a notification being sent is finished, not cut off

    def _fire(self) -> None:
        if self._send is None or self.sent:
            return
        self.sent = True
        title, body = self.message()
        try:
            self._send(title, body)
        except Exception as exc:  # a timer thread has nobody to raise to
            print(f"taskbot: progress notification failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)

    # --- the message -------------------------------------------------------------------

    def message(self) -> tuple[str, str]:
        """(title, Markdown body) of the progress notification, redacted."""
        now = self._clock()
        with self._lock:
            states = sorted(self._criteria.items())
            current = set(self._flight)
        done = [s for i, s in states if s.outcome is not None and i not in current]
        flight = [s for i, s in states if i in current]
        left = [s for i, s in states if s.outcome is None and i not in current]
        ok = sum(1 for s in done if s.outcome and s.outcome.status is Status.DONE)
        elapsed = format_duration(now - self._started)
        title = (f"{self.task_id} still running after {elapsed}: {ok} done, "
                 f"{len(flight)} in flight, {len(left)} left")
        f = self._field
        lines = [f"# Task Progress: {f(self.task_id)}",
                 f"Still running after {elapsed} (soft limit {format_duration(self.soft_limit)}).",
                 "## Done So Far"]
        for s in done:
            assert s.outcome is not None
            why = "" if s.outcome.status is Status.DONE else f" ({s.outcome.status.value}: " \
                f"{f(s.outcome.reason)})"
            lines.append(f"- {_MARK[s.outcome.status]} {f(s.text)}{why}")
        lines += ["(none yet)"] if not done else []
        lines.append("## In Flight")
        lines += [f"- ⏳ {f(s.text)} (attempt {s.attempt}, "
                  f"for {format_duration(now - s.started)})" for s in flight] or ["(none)"]
        lines.append("## Left")
        lines += [f"- {f(s.text)}" for s in left] or ["(none)"]
        return self._redact(title), self._redact("\n".join(lines) + "\n")

    def _field(self, text: str) -> str:
        return clean(text, self._redact, keep="", markup=markup)


def watch(ctx: Context, send: Send | None, before: float = 0.0) -> ProgressWatch:
    """A watch over the run in `ctx`, which its observer tells the task's criteria (inert
    when `send` is None); `before`: seconds it ran before a restart resumed it."""
    return ProgressWatch(ctx.task_id, ctx.config.limits.run_soft_limit, send, ctx.redactor,
                         before=before)


def outbox_sender(config: Config, run_id: str) -> Send:
    """Send through the outbox (so it is retried if it cannot be delivered now)."""
    def send(title: str, body: str) -> None:
        task = title.split(" ", 1)[0]
        left = Outbox(config.repo.state_dir, config.notify).send(
            Message(title, body, "progress", task, run_id))
        if left is not None:
            print(f"taskbot: progress notification not delivered yet, kept in the outbox: "
                  f"{left.last_error}", file=sys.stderr)
    return send
