"""Actions → results: runs each selected criterion's handler with retries, never stopping early.

A failure in one criterion is recorded and the next one still runs if its own
preconditions hold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.actions import Action
from bot.api import Context, Handler, Outcome, Status
from bot.errors import TaskbotError


class State(StrEnum):
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    MANUAL = "manual"
    SKIPPED = "skipped"  # dry run
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Result:
    action: Action
    state: State
    outcome: Outcome | None = None
    attempts: int = 0

    @property
    def reason(self) -> str:
        if self.state is State.MANUAL:
            return "manual: waiting for a person"
        if self.state is State.SKIPPED:
            return "dry run: not executed"
        if self.action.error:
            return self.action.error
        return self.outcome.reason if self.outcome else ""

    @property
    def attempted(self) -> bool:
        return self.state in (State.DONE, State.FAILED, State.BLOCKED, State.INTERRUPTED)


Observer = Callable[[Action, int], None]


def execute(
    actions: Sequence[Action],
    handlers: Mapping[str, Handler],
    ctx: Context,
    *,
    selected: Collection[int] | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Observer | None = None,
) -> tuple[Result, ...]:
    """Run the unchecked criteria (or those whose index is in `selected`), in file order."""
    results: list[Result] = []
    for action in actions:
        criterion = action.criterion
        if criterion.checked or (selected is not None and criterion.index not in selected):
            continue
        if should_stop():
            results.append(Result(action, State.INTERRUPTED))
            continue
        results.append(_one(action, handlers, ctx, dry_run, on_start))
    return tuple(results)


def _one(
    action: Action,
    handlers: Mapping[str, Handler],
    ctx: Context,
    dry_run: bool,
    on_start: Observer | None,
) -> Result:
    if action.handler is None:
        return Result(action, State.MANUAL)
    if action.error:
        return Result(action, State.BLOCKED, Outcome(Status.BLOCKED, action.error))
    if dry_run:
        return Result(action, State.SKIPPED)
    handler = handlers[action.handler]
    outcome = Outcome(Status.FAILED, "not run")
    attempts = 0
    for attempts in range(1, ctx.config.limits.retries + 2):
        if on_start is not None:
            on_start(action, attempts)
        outcome = _call(handler, action, ctx)
        if outcome.status is not Status.FAILED:
            break
    return Result(action, State(outcome.status.value), outcome, attempts)


def _call(handler: Handler, action: Action, ctx: Context) -> Outcome:
    try:
        return handler.run(action.settings, ctx)
    except TaskbotError as exc:
        return Outcome(Status.BLOCKED, str(exc))
    except Exception as exc:  # a handler bug fails its criterion, not the run
        return Outcome(Status.FAILED, f"handler {handler.name} crashed: {type(exc).__name__}: {exc}")
