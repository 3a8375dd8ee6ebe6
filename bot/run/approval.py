"""Approval before risky changes: which criteria wait for one, their plan's digest, and
whether an approval seen in a push counts.

A criterion needs approval when `[approval] handlers` lists its handler or its project
(`project=`, or the one its settings resolved) sets `approval = true`. Its handler's plan
(`Step`) and a digest identify what a person approves: the digest covers the task and the
criterion (its identity, occurrence, handler and parameters), the plan (commands, files,
preconditions), what the plan was made from (`Step.inputs`: a GitOps file's blob) and the
configuration file's bytes, so an approval is void once any of them changes. An approval
counts when its commit was trusted (judged by the push stage, `bot.git.trust`), it names
this plan, and it is not older than `[approval] expires`. Pure but for reading the configuration file.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bot.config import Config, Project
from bot.run.context import Context, Handler
from bot.run.pending import Pending, approve_hint
from bot.run.runmodel import Action, Step
from bot.taskfile.model import occurrences
from bot.text.durations import format_duration

if TYPE_CHECKING:  # not a cycle: the store's module costs `plan` an import it never uses
    from bot.state.approvals import Seen

__all__ = ["DIGEST_LENGTH", "Judged", "Pending", "approve_hint", "digest", "judge", "needs",
           "plan_lines", "planned"]

DIGEST_LENGTH = 16  # hex digits of sha256: short enough to type, long enough to never collide


class Judged(NamedTuple):
    held: dict[int, str]  # criterion index → why it waits
    pending: tuple[Pending, ...]
    void: tuple[str, ...]  # approvals seen that count for nothing, and why


def _project(action: Action, config: Config) -> Project | None:
    named = action.params.get("project") or getattr(action.settings, "project", "")
    if not isinstance(named, str) or not named:
        return None
    return next((p for p in config.projects.values() if p.name.lower() == named.lower()), None)


def needs(action: Action, config: Config) -> bool:
    """Whether the criterion waits for a person's approval before anything of it runs."""
    if action.handler is None or action.error:
        return False  # nothing of it would run anyway
    if action.handler in config.approval.handlers:
        return True
    project = _project(action, config)
    return project is not None and project.approval


def plan_lines(step: Step) -> tuple[str, ...]:
    """The plan as `taskbot plan` prints it: every command, file, precondition and input."""
    return (*(f"run: {shlex.join(c)}" + (f"  (in {step.cwd})" if step.cwd else "")
              for c in step.commands),
            *(f"file: {f}" for f in step.files),
            *(f"needs: {p}" for p in step.preconditions),
            *(f"then: {t}" for t in step.then),
            *(f"input: {i}" for i in step.inputs))


def _config_bytes(config: Config) -> bytes:
    try:
        return Path(config.source).read_bytes()
    except OSError:  # no file (defaults): nothing to cover
        return b""


def digest(task_id: str, action: Action, occurrence: int, step: Step, config: Config) -> str:
    """The plan's digest: it changes with the task's criterion, the plan and its inputs, and
    the configuration file."""
    doc = {
        "task": task_id,
        "criterion": action.criterion.identity,
        "occurrence": occurrence,
        "handler": action.handler,
        "params": sorted(action.params.items()),
        # `then` is shown, not digested: it says how the handler does what follows its
        # commands with what it finds where it runs (`flux` on PATH or not), which would make
        # a person's `taskbot approve` and the daemon disagree; what it waits for and undoes
        # comes from the configuration, which the digest covers.
        "step": {k: list(map(list, v)) if k == "commands" else v
                 for k, v in step._asdict().items() if k != "then"},
        "config": hashlib.sha256(_config_bytes(config)).hexdigest(),
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def planned(task_id: str, actions: Sequence[Action], handlers: Mapping[str, Handler],
            ctx: Context, wanted: Collection[int] | None = None
            ) -> tuple[tuple[Pending, str], ...]:
    """Each open criterion that needs approval (of `wanted`, when given) with its plan and
    digest; a plan that cannot be made is one line saying why, and a digest nobody can match."""
    counted = occurrences([a.criterion for a in actions])
    found: list[tuple[Pending, str]] = []
    for action in actions:
        c = action.criterion
        if c.checked or (wanted is not None and c.index not in wanted) \
                or not needs(action, ctx.config):
            continue
        assert action.handler is not None  # needs() says so
        try:
            step = handlers[action.handler].plan(action.settings, ctx)
        except Exception as exc:  # a handler's plan that fails: nothing to approve, nothing runs
            found.append((Pending(c.index, c.text, "", ()),
                          f"waiting for approval: its plan cannot be made: {exc}"))
            continue
        made = digest(task_id, action, counted[c.index], step, ctx.config)
        found.append((Pending(c.index, c.text, made, plan_lines(step)),
                      f"waiting for approval: plan {made}; approve with "
                      f"{approve_hint(task_id)}"))
    return tuple(found)


def judge(task_id: str, actions: Sequence[Action], handlers: Mapping[str, Handler],
          ctx: Context, seen: Sequence[Seen], now: datetime,
          wanted: Collection[int] | None = None) -> Judged:
    """Which criteria wait for approval (`held`, as the runner takes it), and which of the
    approvals `seen` count for nothing and why. Only a trusted, fresh approval of the
    current digest lets its criterion run."""
    expires = ctx.config.approval.expires
    good = {s.digest for s in seen
            if s.trusted and s.digest and now.timestamp() - s.time <= expires}
    waiting = [(p, why) for p, why in planned(task_id, actions, handlers, ctx, wanted)
               if not p.digest or p.digest not in good]
    pending = tuple(p for p, _ in waiting)
    held = {p.criterion: why for p, why in waiting}
    return Judged(held, pending, _void(seen, pending, now, expires) if pending else ())


def _void(seen: Sequence[Seen], pending: Sequence[Pending], now: datetime, expires: float
          ) -> tuple[str, ...]:
    current = [p.digest for p in pending if p.digest]
    plans = ("the plan is now " if len(current) == 1 else "the plans are now ") + \
        (", ".join(current) or "none")
    notes: list[str] = []
    for s in seen:
        if not s.trusted:
            notes.append(f"{s.named} counts for nothing: {s.why}")
        elif s.digest not in current:
            notes.append(f"{s.named} is for plan {s.digest}, {plans}: it is void")
        elif now.timestamp() - s.time > expires:
            notes.append(f"{s.named} for plan {s.digest} expired: older than "
                         f"{format_duration(expires)} ([approval] expires)")
    return tuple(dict.fromkeys(notes))
