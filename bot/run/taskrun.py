"""One run of one task file: dependencies, actions, execution, the edit, the report.

The file is re-read just before it is written, and the edit is re-applied to it: each
tick names the criterion that ran by its identity and occurrence in the version the run
read, so a person's edit made meanwhile is never lost and a tick never lands on another
line that reads the same. Only a criterion that ran and succeeded is ticked (never one
held back by a dependency, selected out, or failed).
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.run import approval, observe
from bot.run.actions import resolve
from bot.run.context import Context, Handler
from bot.run.gate import followers
from bot.run.report import Report, TaskInfo
from bot.run.runmodel import Action, FileChange, Result, TaskResult
from bot.run.runmodel import CriterionState as State
from bot.run.runner import Executed, Journal, executed, will_run
from bot.state.approvals import Seen
from bot.taskfile.edit import apply as apply_edit
from bot.taskfile.follow import follow
from bot.taskfile.lookup import State as Lookup
from bot.taskfile.lookup import (
    held_criteria,
    trusted_dependencies,
    waiting_dependencies,
)
from bot.taskfile.model import Criterion, DependencyState, Edit, Task
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.parse import parse_cached
from bot.taskfile.save import write as write_task
from bot.taskfile.source import read as read_task

_STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\s*[:-]?\s*")


@dataclass(frozen=True)
class RunOptions:
    now: datetime
    dry_run: bool = False
    write: bool = True
    selected: Collection[int] | None = None
    repo_label: str = "tasks"
    display_path: str = ""  # how reports name the file (repo-relative in a worktree)
    should_stop: Callable[[], bool] = lambda: False
    journal: Journal | None = None  # outcomes kept as they end; recorded ones are not run again
    approvals: tuple[Seen, ...] = ()  # the task's approvals seen in pushes (bot.state.approvals)
    dependencies: Lookup | None = None  # where dependencies are looked up; None: beside the file


@dataclass(frozen=True)
class RunResult:
    report: Report
    edit: Edit
    before: bytes
    after: bytes | None  # the bytes written (or that would be), None when unchanged

    @property
    def exit_code(self) -> int:
        return exit_code(self.report)


def exit_code(report: Report) -> int:
    """1 when a criterion failed, was blocked or interrupted, or the task waits (on another
    task, or for a person's approval); else 0."""
    bad = (State.FAILED, State.BLOCKED, State.INTERRUPTED)
    waits = report.waiting_on or report.awaiting
    return 1 if waits or any(r.state in bad for r in report.results) else 0


def run_task(path: Path, handlers: Mapping[str, Handler], ctx: Context,
             options: RunOptions) -> RunResult:
    began = time.monotonic()
    before = read_task(path)
    task = parse_task(before, str(path))
    waiting = waiting_dependencies(task, path, state=options.dependencies)
    ran = Executed((), ())
    judged = approval.Judged({}, (), ())
    if not any(not w.groups for w in waiting):  # nothing runs while the whole task waits
        actions = resolve(task, handlers, ctx)
        held = held_criteria(task, waiting)
        judged = _approvals(task, actions, handlers, ctx, options, held)
        held = {**judged.held, **held}
        # what watches the run (status, progress) counts only what will run
        observe.running(task.id, [a for a in actions if will_run(a, options.selected, held)])
        ran = executed(
            actions, handlers, ctx, selected=options.selected, dry_run=options.dry_run,
            should_stop=options.should_stop, journal=options.journal, held=held,
        )
    results = ran.results
    edit = _edit(results, options.now, ctx, task.progress_log, _names(task.criteria),
                 _asked(task.id, judged))
    after, missing = _write(path, before, edit, options)
    final = parse_task(after, str(path)) if after is not None else task
    moved = _followed(before, after, str(path)) if after is not None else {
        c.index: c.index for c in task.criteria}
    report = _report(task, final, moved, path, results, waiting, edit, missing, ctx, options)
    trusted = tuple(f"{t.task_id}: {t.trusted}" for t in trusted_dependencies(task, path,
                                                                           state=options.dependencies))
    report = replace(report, awaiting=judged.pending,
                     notes=(*trusted, *report.notes, *judged.void), groups=ran.groups,
                     wall=time.monotonic() - began)
    return RunResult(report, edit, before, after)


def _approvals(task: Task, actions: tuple[Action, ...], handlers: Mapping[str, Handler],
               ctx: Context, options: RunOptions, held: Mapping[int, str]) -> approval.Judged:
    """The criteria that would run and wait for a person's approval (one held for a
    dependency waits for that first)."""
    wanted = {a.criterion.index for a in actions if a.criterion.index not in held
              and (options.selected is None or a.criterion.index in options.selected)}
    judged = approval.judge(task.id, actions, handlers, ctx, options.approvals, options.now,
                            wanted)
    # A gate's checks judge what it did: while it waits, they wait with it.
    checks = {c.criterion.index: gate for gate, found in followers(actions, handlers).items()
              for c in found if gate in judged.held}
    waits = {i: f"waiting: it checks \"{actions[gate].criterion.text}\", which waits for "
                "approval" for i, gate in checks.items() if i not in judged.held}
    return judged._replace(held={**judged.held, **waits})


def _asked(task_id: str, judged: approval.Judged) -> tuple[str, ...]:
    """The Progress Log's line for each criterion waiting for approval (once per plan)."""
    return tuple(f"Waiting for approval: {p.text} (plan {p.digest}; "
                 f"{approval.approve_hint(task_id)})" for p in judged.pending if p.digest)


def _followed(before: bytes, after: bytes, path: str) -> dict[int, int]:
    """Criterion index before the edit → index after it (`bot.taskfile.follow`)."""
    return follow(parse_cached(bytes(before), path), parse_cached(bytes(after), path))


def _names(criteria: tuple[Criterion, ...]) -> dict[int, str]:
    """How the log names each criterion: its text, and where it sits when another criterion
    reads the same (its group, else which of them it is), so a log line says which ran."""
    same: defaultdict[str, list[Criterion]] = defaultdict(list)
    for c in criteria:
        same[c.text].append(c)
    names: dict[int, str] = {}
    for text, alike in same.items():
        groups = Counter(c.group for c in alike)
        for n, c in enumerate(alike, 1):
            if len(alike) == 1:
                names[c.index] = text
            elif c.group and groups[c.group] == 1:
                names[c.index] = f"{text} (under {c.group})"
            else:
                names[c.index] = f"{text} ({n} of {len(alike)})"
    return names


def _log_text(result: Result, name: str | None = None) -> str | None:
    line = _outcome_text(result, name or result.action.criterion.text)
    if line is not None and result.rerun:
        return f"{line} (interrupted, run again)"
    return line


def _outcome_text(result: Result, text: str) -> str | None:
    if result.state is State.DONE and result.outcome is not None and result.outcome.summary:
        return f"Done: {text} ({result.outcome.summary})"
    if result.state is State.DONE:
        commands = result.outcome.commands if result.outcome else ()
        how = commands[0].describe() if len(commands) == 1 else (
            f"{len(commands)} commands succeeded" if commands else "")
        return f"Done: {text}" + (f" ({how})" if how else "")
    if result.state in (State.FAILED, State.BLOCKED):
        return f"{result.state.value.capitalize()}: {text}: {result.reason}"
    if result.state is State.INTERRUPTED:
        return f"Interrupted: {text}: taskbot stopped before it ran"
    return None


def _edit(results: tuple[Result, ...], now: datetime, ctx: Context,
          existing: tuple[str, ...] = (), names: Mapping[int, str] | None = None,
          asked: tuple[str, ...] = ()) -> Edit:
    """Ticks (each the criterion that ran, by identity and occurrence) and log lines, which
    name criteria as `names` says; a line the Progress Log already has (after its time) is
    not repeated, so a criterion blocked for the same reason on every run logs it once."""
    stamp = f"{now:%Y-%m-%d %H:%M}"
    logged = {_STAMP_RE.sub("", entry, count=1).strip() for entry in existing}
    lines = (_log_text(r, (names or {}).get(r.action.criterion.index)) for r in results)
    texts = [ctx.redactor(t) for t in (*lines, *asked) if t is not None]
    texts = [t for t in texts if t.strip() not in logged]
    ticks = tuple(r.tick for r in results if r.state is State.DONE)
    if not texts and not ticks:
        return Edit()
    return Edit(
        ticks=ticks,
        updated=f"{now:%Y-%m-%d}",
        log=tuple(ctx.redactor(f"{stamp}: {t}") for t in texts),
    )


def _write(path: Path, before: bytes, edit: Edit, options: RunOptions
           ) -> tuple[bytes | None, tuple[str, ...]]:
    if edit == Edit() or options.dry_run:
        return None, ()
    current = read_task(path) if options.write else before
    applied = apply_edit(current, edit, str(path), base=before)
    if options.write and applied.data != current:
        write_task(path, applied.data)
    return applied.data, applied.missing


def _remaining(final: Task, moved: Mapping[int, int], results: tuple[Result, ...]
               ) -> tuple[tuple[str, str], ...]:
    """Each open criterion with why it is open: its own result's reason, followed from the
    file the run read (`moved`), never that of another line that reads the same."""
    why = {moved[r.action.criterion.index]: r.reason for r in results
           if r.state is not State.DONE and r.action.criterion.index in moved}
    default = "not triggered by this change; `taskbot run` re-runs it"
    return tuple((c.text, why.get(c.index, default)) for c in final.criteria if not c.checked)


def _result_word(final: Task, results: tuple[Result, ...],
                 waiting: tuple[DependencyState, ...]) -> TaskResult:
    if final.complete:
        return TaskResult.COMPLETE
    # A group that waits does not make the whole task wait when other groups ran.
    if not any(r.attempted for r in results) or any(not w.groups for w in waiting):
        return TaskResult.WAITING
    if any(r.state is State.DONE for r in results):
        return TaskResult.PARTIAL
    return TaskResult.BLOCKED


def _report(task: Task, final: Task, moved: Mapping[int, int], path: Path,
            results: tuple[Result, ...], waiting: tuple[DependencyState, ...],
            edit: Edit, missing: tuple[str, ...], ctx: Context, options: RunOptions
            ) -> Report:
    fm = task.frontmatter
    info = TaskInfo(task.id, task.title, str(fm.get("priority", "-")),
                    str(fm.get("status", "-")), options.display_path or str(path))
    changes: tuple[FileChange, ...] = tuple(
        c for r in results if r.outcome for c in r.outcome.changes)
    if edit.log and not options.dry_run:
        ticked = len(edit.ticks) - len(missing)
        changes += (FileChange(options.repo_label, options.display_path or str(path),
                               f"{ticked} criteria checked, progress log"),)
    notes = tuple(f"Not ticked: \"{m}\" was edited, re-checked or removed meanwhile"
                  for m in missing)
    return Report(
        task=info,
        result=_result_word(final, results, waiting),
        done=sum(c.checked for c in final.criteria),
        total=len(final.criteria),
        results=results,
        remaining=_remaining(final, moved, results),
        changes=changes,
        progress_log=tuple(f"- {line}" for line in edit.log),
        waiting_on=waiting,
        run_id=ctx.run_id,
        notes=notes,
    )
