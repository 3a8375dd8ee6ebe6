"""Actions → results: runs each selected criterion's handler with retries, never stopping early.

A failure in one criterion is recorded and the next one still runs if its own
preconditions hold. Whoever watches hears it through `bot.run.observe`: each attempt as it
starts, each criterion that ran as it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Protocol

from bot.errors import TaskbotError
from bot.run import observe
from bot.run.context import Context, Handler
from bot.run.gate import Gates
from bot.run.runmodel import Action, Outcome, Result, Status
from bot.run.runmodel import CriterionState as State
from bot.taskfile.model import occurrences

__all__ = ["Journal", "Recorded", "Result", "State", "execute"]


class Recorded(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def outcome(self) -> Outcome | None: ...


class Journal(Protocol):
    """Where each criterion's outcome is kept the moment it ends (bot.run.journal)."""

    def recorded(self, identity: str, occurrence: int) -> Recorded | None: ...
    def was_interrupted(self, identity: str, occurrence: int) -> bool: ...
    def started(self, identity: str, occurrence: int) -> None: ...
    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None: ...


def execute(
    actions: Sequence[Action],
    handlers: Mapping[str, Handler],
    ctx: Context,
    *,
    selected: Collection[int] | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    journal: Journal | None = None,
    held: Mapping[int, str] | None = None,
) -> tuple[Result, ...]:
    """Run the unchecked criteria (or those whose index is in `selected`), in file order.

    With a journal, an outcome it recorded is taken as it is (the criterion never runs
    twice), and every new outcome is recorded before the next criterion starts. `held`
    criteria (index → why) wait for another task and do not run. Each result says which
    occurrence of its identity it is, so that its tick lands on that line and no other.
    A criterion that opens a gate has its checks judged by `bot.run.gate`.
    """
    results: list[Result] = []
    counted = occurrences([a.criterion for a in actions])
    gates = Gates(actions, handlers, ctx, counted, journal)
    for action in actions:
        criterion = action.criterion
        occurrence = counted[criterion.index]
        if criterion.checked or (selected is not None and criterion.index not in selected):
            continue
        if held and criterion.index in held:
            results.append(Result(action, State.WAITING,
                                  Outcome(Status.BLOCKED, held[criterion.index])))
            continue
        if journal is not None:
            kept = journal.recorded(criterion.identity, occurrence)
            if kept is not None:
                # an outcome run again after a kill still says so after a second kill
                results.append(Result(action, State(kept.state), kept.outcome, kept.attempts,
                                      journal.was_interrupted(criterion.identity, occurrence)))
                gates.ended(results)
                continue
        if should_stop():
            results.append(Result(action, State.INTERRUPTED))
            continue
        not_run = gates.hold(action, results)
        if not_run is not None:
            results.append(not_run)
            continue
        began = time.monotonic()
        named = ctx._replace(criterion=f"{criterion.identity}#{occurrence}")
        results.append(_journaled(action, occurrence, journal,
                                  partial(_one, action, handlers, named, dry_run)))
        if results[-1].attempted:
            observe.ended(ctx.task_id, results[-1], time.monotonic() - began)
        gates.ended(results)
    return tuple(replace(r, occurrence=counted[r.action.criterion.index]) for r in results)


def _journaled(action: Action, occurrence: int, journal: Journal | None,
               work: Callable[[], Result]) -> Result:
    if journal is None or action.handler is None or action.error:
        return work()  # nothing runs: nothing to record
    identity = action.criterion.identity
    rerun = journal.was_interrupted(identity, occurrence)
    journal.started(identity, occurrence)
    result = work()
    journal.ended(identity, occurrence, result.state.value, result.attempts, result.outcome)
    return Result(result.action, result.state, result.outcome, result.attempts, rerun)


def _one(
    action: Action,
    handlers: Mapping[str, Handler],
    ctx: Context,
    dry_run: bool,
) -> Result:
    if action.manual:
        return Result(action, State.MANUAL)
    if action.error or action.handler is None:
        return Result(action, State.BLOCKED, Outcome(Status.BLOCKED, action.error))
    if dry_run:
        return Result(action, State.SKIPPED)
    handler = handlers[action.handler]
    outcome = Outcome(Status.FAILED, "not run")
    attempts = 0
    for attempts in range(1, ctx.config.limits.retries + 2):
        observe.started(ctx.task_id, action, attempts)
        outcome = _call(handler, action, ctx._replace(attempt=attempts))
        if outcome.status is not Status.FAILED or outcome.final:
            break
    return Result(action, State(outcome.status.value), outcome, attempts)


def _call(handler: Handler, action: Action, ctx: Context) -> Outcome:
    try:
        return handler.run(action.settings, ctx)
    except TaskbotError as exc:
        return Outcome(Status.BLOCKED, str(exc))
    except Exception as exc:  # a handler bug fails its criterion, not the run
        return Outcome(Status.FAILED, f"handler {handler.name} crashed: {type(exc).__name__}: {exc}")
