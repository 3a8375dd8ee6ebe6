"""Actions → results: runs each selected criterion's handler with retries, never stopping early.

A failure in one criterion is recorded and the next one still runs if its own
preconditions hold. Independent project groups run side by side in threads
(`bot.run.lanes` says which; `bot.run.repolock` keeps two of them off one repository).
Whoever watches hears it through `bot.run.observe`: each attempt as it starts, each
criterion that ran as it ends (from the thread of its group).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from typing import NamedTuple, Protocol

from bot.errors import TaskbotError
from bot.run import lanes, observe, repolock
from bot.run.context import Context, Handler
from bot.run.gate import Gates
from bot.run.runmodel import Action, GroupTime, Outcome, Result, Status
from bot.run.runmodel import CriterionState as State
from bot.taskfile.model import occurrences

__all__ = ["Executed", "Journal", "Recorded", "Result", "State", "executed", "will_run"]


class Recorded(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def outcome(self) -> Outcome | None: ...


_TICK = 0.1  # seconds between looks at the lanes while they run (for Ctrl-C)

class Journal(Protocol):
    """Where each criterion's outcome is kept the moment it ends (bot.run.journal)."""

    def recorded(self, identity: str, occurrence: int) -> Recorded | None: ...
    def was_interrupted(self, identity: str, occurrence: int) -> bool: ...
    def started(self, identity: str, occurrence: int) -> None: ...
    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None: ...


def will_run(action: Action, selected: Collection[int] | None, held: Collection[int]) -> bool:
    """Whether the criterion will run a handler (unless the journal has its outcome): not
    checked, a handler and no error, selected (when some are), not held."""
    index = action.criterion.index
    return not (action.criterion.checked or action.handler is None or action.error
                or (selected is not None and index not in selected) or index in held)


def executed(
    actions: Sequence[Action],
    handlers: Mapping[str, Handler],
    ctx: Context,
    *,
    selected: Collection[int] | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    journal: Journal | None = None,
    held: Mapping[int, str] | None = None,
) -> Executed:
    """Run the unchecked criteria (or those whose index is in `selected`), group by group:
    independent project groups side by side (`bot.run.lanes`, `limits.parallel`), each
    group's criteria in file order; the results in file order whatever ran first.

    With a journal, an outcome it recorded is taken as it is (the criterion never runs
    twice), and every new outcome is recorded before the next criterion of its group
    starts. `held` criteria (index → why) wait for another task and do not run. Each result
    says which occurrence of its identity it is, so that its tick lands on that line and no
    other. A criterion that opens a gate has its checks judged by `bot.run.gate`.
    """
    counted = occurrences([a.criterion for a in actions])
    run = _Run(actions, handlers, ctx, counted, selected, dry_run, should_stop, journal,
               held or {})
    groups = lanes.split(actions, run.runs, partial(lanes.project_of, handlers=handlers,
                                                      config=ctx.config))
    done: dict[int, tuple[list[Result], GroupTime]] = {}
    for stage in lanes.stages(groups, ctx.config.limits.parallel):
        done.update(_stage(stage, run, ctx.config.limits.parallel))
    ordered = [done[id(g)] for g in groups]
    results = tuple(replace(r, occurrence=counted[r.action.criterion.index])
                    for rs, _ in ordered for r in rs)
    return Executed(results, tuple(t for rs, t in ordered if any(r.attempted for r in rs)))


class Executed(NamedTuple):
    results: tuple[Result, ...]
    groups: tuple[GroupTime, ...]  # each group that ran something, in file order


def _stage(stage: lanes.Stage, run: _Run, parallel: int
           ) -> dict[int, tuple[list[Result], GroupTime]]:
    """A stage's lanes, side by side (one lane with work: in this thread, as before groups)."""
    found: dict[int, tuple[list[Result], GroupTime]] = {}
    if sum(1 for lane in stage if any(g.work for g in lane)) <= 1:
        for lane in stage:
            found.update(_lane(lane, run))
        return found
    with ThreadPoolExecutor(min(parallel, len(stage)), "taskbot-group") as pool:
        futures: list[Future[dict[int, tuple[list[Result], GroupTime]]]] = []
        try:  # from the first submit on: a Ctrl-C between two must stop the lanes too
            for lane in stage:
                # each lane sees this thread's context: the observer, the heartbeat's listener
                futures.append(pool.submit(contextvars.copy_context().run, _guarded, lane, run))
            _await(futures)
            for future in futures:
                found.update(future.result())
        except BaseException:  # Ctrl-C here, or a lane's error: the lanes start nothing more
            run.broken.set()
            raise
    return found


def _await(futures: list[Future[dict[int, tuple[list[Result], GroupTime]]]]) -> None:
    """Until every lane ended, waking every `_TICK`; a lane's error is raised at once. A
    Ctrl-C the kernel hands to another thread interrupts no wait of this one, and Python
    raises its KeyboardInterrupt only here: a wait without a timeout would take it once
    every lane had ended."""
    while not all(f.done() for f in futures):
        wait(futures, timeout=_TICK, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()  # raises the lane's error


def _guarded(lane: tuple[lanes.Group, ...], run: _Run
             ) -> dict[int, tuple[list[Result], GroupTime]]:
    try:
        return _lane(lane, run)
    except BaseException:
        # the run is broken (its journal cannot be written...): as one thread would have
        # stopped there, the other lanes start nothing more; what runs ends and is kept
        run.broken.set()
        raise


def _lane(lane: tuple[lanes.Group, ...], run: _Run
          ) -> dict[int, tuple[list[Result], GroupTime]]:
    out: dict[int, tuple[list[Result], GroupTime]] = {}
    for group in lane:
        began = time.monotonic()
        results = run.group(group.actions)
        out[id(group)] = (results, GroupTime(group.name, group.project,
                                             time.monotonic() - began))
    return out


class _Run:
    """What every group of one run shares: handlers, context, the journal, what is held."""

    def __init__(self, actions: Sequence[Action], handlers: Mapping[str, Handler],
                 ctx: Context, counted: Mapping[int, int], selected: Collection[int] | None,
                 dry_run: bool, should_stop: Callable[[], bool], journal: Journal | None,
                 held: Mapping[int, str]) -> None:
        self.actions, self.handlers, self.ctx = actions, handlers, ctx
        self.counted, self.selected, self.dry_run = counted, selected, dry_run
        self.should_stop, self.journal, self.held = should_stop, journal, held
        self.broken = threading.Event()  # the run raised (a lane, Ctrl-C): it goes to the caller
        self.locks = repolock.locks(ctx.memory)  # shared by the groups running side by side

    def runs(self, action: Action) -> bool:
        return will_run(action, self.selected, self.held)

    def group(self, actions: Sequence[Action]) -> list[Result]:
        """One group's criteria in file order; a gate's checks judged with their gate."""
        results: list[Result] = []
        gates = Gates(self.actions, self.handlers, self.ctx, self.counted, self.journal,
                      partial(repolock.holding, handlers=self.handlers, config=self.ctx.config,
                              table=self.locks))
        for action in actions:
            result = self._one(action, gates, results)
            if result is not None:
                results.append(result)
                gates.ended(results)
        return results

    def _one(self, action: Action, gates: Gates, results: list[Result]) -> Result | None:
        criterion, journal = action.criterion, self.journal
        occurrence = self.counted[criterion.index]
        if criterion.checked or (self.selected is not None
                                 and criterion.index not in self.selected):
            return None
        if criterion.index in self.held:
            return Result(action, State.WAITING,
                          Outcome(Status.BLOCKED, self.held[criterion.index]))
        if journal is not None:
            kept = journal.recorded(criterion.identity, occurrence)
            if kept is not None:
                # an outcome run again after a kill still says so after a second kill
                return Result(action, State(kept.state), kept.outcome, kept.attempts,
                              journal.was_interrupted(criterion.identity, occurrence))
        if self.should_stop() or self.broken.is_set():
            return Result(action, State.INTERRUPTED)
        not_run = gates.hold(action, results)
        if not_run is not None:
            return not_run
        began = time.monotonic()
        named = self.ctx._replace(criterion=f"{criterion.identity}#{occurrence}")
        with repolock.holding(action, self.handlers, self.ctx.config, self.locks):
            result = _journaled(action, occurrence, journal,
                                partial(_one, action, self.handlers, named, self.dry_run))
        if result.attempted:
            observe.ended(self.ctx.task_id, result, time.monotonic() - began)
        return result


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
