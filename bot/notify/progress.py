"""One progress notification for a run still going past `limits.run_soft_limit`.

A `ProgressWatch` follows the run through the runner's `on_start` observer (which
criterion is in flight, which attempt) and through its handlers, wrapped so that each
attempt's outcome is seen. A timer started with the run fires once, past the soft limit,
and sends what is done so far, what is in flight and what is left; the run cancels it when
it ends. A watch without a sender is inert: no timer, handlers passed through unchanged.
The task id and criteria come from a push: redacted, then escaped as Markdown
(`mdescape.markup`), so they render as text.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.config import Config
from bot.durations import format_duration
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from bot.run.actions import Action, resolve
from bot.run.context import Context, Handler
from bot.run.runmodel import DefaultRule, Outcome, Status, Step
from bot.taskfile.parse import load as load_task
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
    outcome: Outcome | None = None  # of the latest finished attempt


class _Watched:
    """A handler that tells the watch how each attempt ended."""

    def __init__(self, inner: Handler, watch: ProgressWatch) -> None:
        self.inner = inner
        self.watch = watch
        self.name: str = inner.name
        self.params: tuple[str, ...] = inner.params
        self.rules: tuple[DefaultRule, ...] = inner.rules

    def settings(self, params: Mapping[str, str], ctx: Context) -> Any:
        return self.inner.settings(params, ctx)

    def plan(self, settings: Any, ctx: Context) -> Step:
        return self.inner.plan(settings, ctx)

    def run(self, settings: Any, ctx: Context) -> Outcome:
        outcome = Outcome(Status.FAILED, "handler crashed")
        try:
            outcome = self.inner.run(settings, ctx)
        finally:
            self.watch.finished(outcome)
        return outcome


class ProgressWatch:
    def __init__(self, task_id: str, pending: Sequence[Action], soft_limit: float,
                 send: Send | None, redact: Callable[[str], str] = str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.task_id = task_id
        self.soft_limit = soft_limit
        self._send = send
        self._redact = redact
        self._clock = clock
        self._lock = threading.Lock()
        self._criteria = {a.criterion.index: _Criterion(a.criterion.text) for a in pending}
        self._current: int | None = None
        self._timer: threading.Timer | None = None
        self._started = clock()
        self.sent = False

    # --- feeding -----------------------------------------------------------------------

    def wrap(self, handlers: Mapping[str, Handler]) -> Mapping[str, Handler]:
        if self._send is None:
            return handlers
        return {name: _Watched(h, self) for name, h in handlers.items()}

    def on_start(self, action: Action, attempt: int) -> None:
        """The runner's observer: called before each attempt of each criterion."""
        with self._lock:
            index = action.criterion.index
            state = self._criteria.setdefault(index, _Criterion(action.criterion.text))
            state.attempt, state.started = attempt, self._clock()
            self._current = index

    def finished(self, outcome: Outcome) -> None:
        with self._lock:
            if self._current is not None:
                self._criteria[self._current].outcome = outcome
                self._current = None

    # --- the timer ---------------------------------------------------------------------

    def __enter__(self) -> ProgressWatch:
        self._started = self._clock()
        if self._send is not None:
            self._timer = threading.Timer(self.soft_limit, self._fire)
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
            current = self._current
        done = [s for _, s in states if s.outcome is not None]
        flight = [s for i, s in states if i == current]
        left = [s for i, s in states if s.outcome is None and i != current]
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


def watch(path: Path, handlers: Mapping[str, Handler], ctx: Context,
          send: Send | None) -> ProgressWatch:
    """A watch over the criteria a run of `path` will execute (inert when `send` is None)."""
    limit = ctx.config.limits.run_soft_limit
    if send is None:
        return ProgressWatch(ctx.task_id, (), limit, None)
    task = load_task(path)
    pending = [a for a in resolve(task, handlers, ctx)
               if not a.criterion.checked and not a.manual and not a.error]
    return ProgressWatch(task.id, pending, limit, send, ctx.redactor)


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
