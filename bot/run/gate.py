"""Gates: checks that follow a criterion in its group are its last step, and undo it.

A handler opens a gate by declaring `gate_followers` (the handlers whose criteria it
takes as its checks, e.g. `("verify",)`) and `undo(settings, ctx, outcome, reason) ->
Outcome`. The followers of a gate criterion are the criteria after it in the same group,
up to the next gate criterion, whose handler is one of those. They run in file order, as
every criterion does; but only once their gate is done in this run (a gate that failed,
was blocked or interrupted leaves them not run: they would check what did not happen),
and when one fails the gate's `undo` is called with `verify failed: <criterion>: <why>`.
Its outcome replaces the gate's result, so the gate is not ticked; the followers after
that are not run.

Crash-safe through the journal, which keeps each outcome as it ends: a run resumed after
a kill finds the gate done and the follower failed, and calls `undo` again — the handler
makes it idempotent (a release handler finds its own rollback commit in the history it
wrote). The undo's outcome is recorded over the gate's, so it is never asked twice once
it has answered. The core names no handler: it reads only these two attributes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, Protocol

from bot.errors import TaskbotError
from bot.run import observe
from bot.run.runmodel import Action, CriterionState, Outcome, Result, Status

__all__ = ["Gates", "JournalLike", "RunContext", "followers"]

# Handlers are plain objects here, read by the two attributes a gate declares: importing
# `bot.run.context` for its `Handler` would lengthen the core's longest import chain.
Handlers = Mapping[str, object]


class RunContext(Protocol):
    """The part of `bot.run.context.Context` a gate reads; the whole is passed to `undo`."""

    @property
    def task_id(self) -> str: ...


Undo = Callable[[Any, RunContext, Outcome, str], Outcome]


class JournalLike(Protocol):
    """The journal's part a gate writes: the undo runs as its gate, and ends over it."""

    def started(self, identity: str, occurrence: int) -> None: ...
    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None: ...


def _declared(handler: object) -> frozenset[str]:
    names = getattr(handler, "gate_followers", ())
    if not names or not callable(getattr(handler, "undo", None)):
        return frozenset()
    return frozenset(str(n) for n in names)


def followers(actions: Sequence[Action], handlers: Handlers
              ) -> dict[int, tuple[Action, ...]]:
    """Gate criterion index → its followers, for the unchecked gates that can run."""
    found: dict[int, tuple[Action, ...]] = {}
    for n, action in enumerate(actions):
        names = _gate_names(action, handlers)
        if not names:
            continue
        group: list[Action] = []
        for later in actions[n + 1:]:
            if later.criterion.group != action.criterion.group or _declared(
                    handlers.get(later.handler or "")):
                break  # the next gate's checks are its own
            if later.handler in names and not later.error:
                group.append(later)
        found[action.criterion.index] = tuple(group)
    return found


def _gate_names(action: Action, handlers: Handlers) -> frozenset[str]:
    if action.handler is None or action.error or action.criterion.checked:
        return frozenset()
    return _declared(handlers.get(action.handler))


class Gates:
    """The gates of one run: which criterion follows which gate, and how each gate ended."""

    def __init__(self, actions: Sequence[Action], handlers: Handlers,
                 ctx: RunContext, occurrences: Mapping[int, int],
                 journal: JournalLike | None,
                 guard: Callable[[Action], AbstractContextManager[object]]
                 ) -> None:
        self._handlers = handlers
        self._guard = guard  # what the gate's own run held (its repository's lock)
        self._ctx = ctx
        self._occurrences = occurrences
        self._journal = journal
        self._gates = followers(actions, handlers)
        self._gate_of = {f.criterion.index: gate for gate, fs in self._gates.items() for f in fs}
        self._ended: dict[int, int] = {}  # gate index → its result's place in `results`

    def hold(self, action: Action, results: Sequence[Result]) -> Result | None:
        """A follower whose gate ran in this run and is not done: not run, and why."""
        gate = self._gate(action, results)
        if gate is None or gate.state is CriterionState.DONE:
            return None
        if gate.state not in (CriterionState.FAILED, CriterionState.BLOCKED,
                              CriterionState.INTERRUPTED):
            return None
        return Result(action, CriterionState.BLOCKED,
                      Outcome(Status.BLOCKED, "not run: the criterion it checks did not pass: "
                              f"{gate.action.criterion.text}"))

    def ended(self, results: list[Result]) -> None:
        """After each result: a gate noted; a failed follower of a done gate undoes it."""
        last = results[-1]
        index = last.action.criterion.index
        if index in self._gates:
            if last.attempts:  # it ran in this run (or before a kill), not a tick kept from another
                self._ended[index] = len(results) - 1
            return
        gate = self._gate(last.action, results)
        if gate is None or gate.state is not CriterionState.DONE:
            return
        if last.state is not CriterionState.FAILED:
            return
        reason = " ".join(f"verify failed: {last.action.criterion.text}: {last.reason}".split())
        results[self._ended[self._gate_of[index]]] = self._undo(gate, reason)

    def _gate(self, action: Action, results: Sequence[Result]) -> Result | None:
        place = self._ended.get(self._gate_of.get(action.criterion.index, -1))
        return None if place is None else results[place]

    def _undo(self, gate: Result, reason: str) -> Result:
        action = gate.action
        handler = self._handlers[action.handler or ""]
        identity, occurrence = action.criterion.identity, self._occurrences[action.criterion.index]
        if self._journal is not None:  # what the undo starts is killed on a restart
            self._journal.started(identity, occurrence)
        observe.started(self._ctx.task_id, action, gate.attempts)
        began = time.monotonic()
        with self._guard(action):
            outcome = _call(handler, action, self._ctx, gate.outcome or Outcome(Status.DONE),
                            reason)
        undone = replace(gate, state=CriterionState(outcome.status.value), outcome=outcome)
        if self._journal is not None:
            self._journal.ended(identity, occurrence, undone.state.value, undone.attempts, outcome)
        observe.ended(self._ctx.task_id, undone, time.monotonic() - began)
        return undone


def _call(handler: object, action: Action, ctx: RunContext, outcome: Outcome,
          reason: str) -> Outcome:
    undo: Undo = getattr(handler, "undo")  # noqa: B009 -- declared, not in the protocol
    try:
        return undo(action.settings, ctx, outcome, reason)
    except TaskbotError as exc:
        return Outcome(Status.FAILED, f"{reason}; not undone: {exc}", final=True)
    except Exception as exc:  # a handler bug still fails the gate: its check failed
        name = getattr(handler, "name", "?")
        return Outcome(Status.FAILED, f"{reason}; undo of {name} crashed: "
                       f"{type(exc).__name__}: {exc}", final=True)
