"""Results → the report of SPEC §7, as Markdown and as JSON. Pure: no I/O.

Every text field (criterion, reason, output, evidence) is redacted, capped at
`textcap.FIELD_CAP` and has its control characters escaped; the whole Markdown report
(also the git note and the notification body) is capped at `textcap.REPORT_CAP`. In the
Markdown, every field but a code span is also escaped as Markdown (`mdescape.inline`): a
task id, title, path or criterion from a push renders as text, never as a heading, a link,
an image or HTML.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.proc import CommandRecord
from bot.run.pending import Pending, approve_hint
from bot.run.runmodel import CriterionState as State
from bot.run.runmodel import FileChange, GroupTime, Result, TaskResult
from bot.taskfile.model import DependencyState
from bot.text.mdescape import code_span, markup
from bot.text.textcap import FIELD_CAP, cap_document, clean, escape_controls

Clean = Callable[[str], str]
JSON_FIELD_CAP = 4 * FIELD_CAP  # argv, cwd and output tails of the JSON form

NEXT_ACTIONS = ("verify", "fix-blocker", "approve", "wait", "none")  # report.schema.json's
SUMMARY_WORDS: dict[str, str] = {
    TaskResult.COMPLETE: "Task is complete.",
    TaskResult.PARTIAL: "Task is partially complete.",
    TaskResult.BLOCKED: "Task is blocked: nothing could be done.",
    TaskResult.WAITING: "Task is waiting.",
}


@dataclass(frozen=True)
class TaskInfo:
    id: str
    title: str
    priority: str
    status: str
    path: str


@dataclass(frozen=True)
class Report:
    task: TaskInfo
    result: TaskResult
    done: int
    total: int
    results: tuple[Result, ...]
    remaining: tuple[tuple[str, str], ...]  # (criterion text, reason) for every unchecked one
    changes: tuple[FileChange, ...]
    progress_log: tuple[str, ...]
    waiting_on: tuple[DependencyState, ...]
    run_id: str
    notes: tuple[str, ...] = ()
    awaiting: tuple[Pending, ...] = ()  # criteria waiting for a person's approval
    groups: tuple[GroupTime, ...] = ()  # wall time of each group that ran something
    wall: float = 0.0  # the run's wall time, seconds

    @property
    def title(self) -> str:
        return f"{self.task.id} {self.result}: {self.done}/{self.total} criteria done"

    @property
    def summary(self) -> str:
        return (
            f"Completed {self.done} of {self.total} acceptance criteria. "
            f"{SUMMARY_WORDS[self.result]}"
        )

    @property
    def commands(self) -> tuple[CommandRecord, ...]:
        return tuple(c for r in self.results if r.outcome for c in r.outcome.commands)

    def next_steps(self) -> tuple[str, ...]:
        steps: list[str] = [
            f"Waiting for {d.task_id}: {d.where}" for d in self.waiting_on if not d.complete
        ]
        for r in self.results:
            text = r.action.criterion.text
            if r.state in (State.FAILED, State.BLOCKED):
                verb = "Fix" if r.state is State.FAILED else "Unblock"
                steps.append(f"{verb} \"{text}\": {r.reason}")
                diagnosis = r.outcome.diagnosis if r.outcome else ()
                steps.extend(f"  - {d}" for d in diagnosis)
            elif r.state is State.MANUAL:
                steps.append(f"Needs a person: \"{text}\" (no rule or annotation runs it)")
            elif r.state is State.INTERRUPTED:
                steps.append(f"Re-run \"{text}\": taskbot stopped before it ran")
        steps.extend(f"Approve \"{p.text}\" (plan {p.digest}): {approve_hint(self.task.id)} "
                     "in a clone, then push" for p in self.awaiting if p.digest)
        if any(r.state in (State.FAILED, State.BLOCKED, State.INTERRUPTED) for r in self.results):
            steps.append(f"Then re-run: taskbot run {self.task.id}")
        skipped = sum(r.state is State.SKIPPED for r in self.results)
        if skipped:
            steps.append(f"Dry run: nothing was executed; `taskbot run {self.task.id}` runs "
                         f"{skipped} criteria")
        steps.extend(self.notes)
        if self.result == TaskResult.COMPLETE:
            steps.append("All criteria are checked: verify the result and close the task.")
        return tuple(steps) or ("Nothing to do.",)

    def next_action(self) -> tuple[str, str]:
        """What an orchestrator does next, one word of `NEXT_ACTIONS`, and why in one line:
        a failure comes first (nothing else moves it), then a plan to approve, a dry run's
        or a wait's nothing to do, a finished task to verify."""
        return (self._blocker() or self._approval() or self._waiting()
                or (("verify", "all criteria are checked: verify the result and close the task")
                    if self.result == TaskResult.COMPLETE else
                    ("none", "nothing for taskbot to do")))

    def _blocker(self) -> tuple[str, str] | None:
        stuck = [r for r in self.results
                 if r.state in (State.FAILED, State.BLOCKED, State.INTERRUPTED)]
        if stuck:
            return "fix-blocker", f"\"{stuck[0].action.criterion.text}\": {stuck[0].reason}"
        if self.result == TaskResult.BLOCKED:  # nothing ran: a refusal says why in its notes
            return "fix-blocker", self.notes[0] if self.notes else self.summary
        return None

    def _approval(self) -> tuple[str, str] | None:
        plans = [p for p in self.awaiting if p.digest]
        return ("approve", f"{len(plans)} plan(s) wait for approval: taskbot approve "
                           f"{self.task.id}") if plans else None

    def _waiting(self) -> tuple[str, str] | None:
        if any(r.state is State.SKIPPED for r in self.results):
            return "none", f"dry run: nothing was executed; run_task runs {self.task.id}"
        waits = [f"{d.task_id}: {d.where}" for d in self.waiting_on if not d.complete]
        if waits:
            return "wait", f"waiting for {waits[0]}"
        manual = [r.action.criterion.text for r in self.results if r.state is State.MANUAL]
        if manual:
            return "wait", f"needs a person: \"{manual[0]}\""
        return ("wait", "the task waits") if self.result == TaskResult.WAITING else None


def _cmd(record: CommandRecord, code: Clean) -> str:
    return code_span(code(shlex.join(record.argv)))


def _output(commands: Sequence[CommandRecord], code: Clean) -> str:
    """Success, with the last line the (last) command printed, if it printed anything."""
    lines = commands[-1].output_tail.strip().splitlines() if commands else []
    return f"Success: {code_span(code(lines[-1].strip()))}" if lines else "Success"


def _prose(text: str, redact: Callable[[str], str], limit: int = FIELD_CAP) -> str:
    """A field outside a code span: one line, escaped as Markdown."""
    return clean(text, redact, limit, keep="", markup=markup)


@dataclass(frozen=True)
class _Fields:
    text: Clean  # prose: Markdown escaped
    code: Clean  # inside a code span, where Markdown means nothing


def _completed(report: Report, f: _Fields) -> list[str]:
    lines: list[str] = []
    for r in report.results:
        if r.state is not State.DONE:
            continue
        lines.append(f"- ✅ {f.text(r.action.criterion.text)}")
        commands = r.outcome.commands if r.outcome else ()
        lines.extend(f"  - Command: {_cmd(c, f.code)}" for c in commands)
        evidence = r.outcome.evidence if r.outcome else ()
        lines.extend(f"  - Evidence: {f.text(e)}" for e in evidence)
        lines.append(f"  - Output: {_output(commands, f.code)}")
    before = report.done - sum(r.state is State.DONE for r in report.results)
    if before > 0:
        lines.append(f"- ✅ {before} more checked before this run")
    return lines or ["(none)"]


def _remaining(report: Report, f: _Fields) -> list[str]:
    attempts = {r.action.criterion.text: r.attempts for r in report.results}
    lines: list[str] = []
    for text, why in report.remaining:
        tries = attempts.get(text, 0)
        lines.append(f"- ⏳ {f.text(text)}")
        lines.append(f"  - Reason: {f.text(why)}" + (f" (after {tries} attempts)" if tries > 1 else ""))
    return lines or ["(none)"]


def _awaiting(report: Report, f: _Fields) -> list[str]:
    """Each criterion waiting for approval: its plan, its digest, how to approve it."""
    if not report.awaiting:
        return []
    lines = ["## Waiting for Approval"]
    for p in report.awaiting:
        lines.append(f"- ⏸ {f.text(p.text)}: plan {code_span(f.code(p.digest or 'none'))}")
        lines.extend(f"  - {f.text(line)}" for line in p.plan)
    lines.append(f"Approve with {code_span(f.code(f'taskbot approve {report.task.id} --push'))} "
                 "in a clone of the tasks repository, as a trusted person.")
    return lines


def _changes(report: Report, f: _Fields) -> list[str]:
    files = [f"- {f.text(c.repo)}: {f.text(c.path)} ({f.text(c.what)})"
             for c in report.changes] or ["(none)"]
    commands = [
        f"- {_cmd(c, f.code)} in {code_span(f.code(c.cwd))}: "
        + (f"exit {c.exit_status}" if c.exit_status is not None
           else f.text(c.error) or "did not finish")
        + f" ({c.duration:.1f}s)"
        for c in report.commands
    ] or ["(none)"]
    return ["### Files Modified", *files, "### Commands Executed", *commands]


def _timing(report: Report, f: _Fields) -> list[str]:
    """Each group's wall time and the run's, when more than one group ran (side by side,
    or not: `limits.parallel`)."""
    if len(report.groups) < 2:
        return []
    lines = ["## Timing", f"Run: {report.wall:.1f}s wall time"]
    lines += [f"- {f.text(g.name or 'Acceptance Criteria')}: {g.seconds:.1f}s"
              + (f" ({f.text(g.project)})" if g.project else "") for g in report.groups]
    return lines


def to_markdown(report: Report, redact: Callable[[str], str] = str) -> str:
    t = report.task
    f = _Fields(partial(_prose, redact=redact), partial(clean, redact=redact))
    step: Clean = partial(_prose, redact=redact, limit=2 * FIELD_CAP)  # a text and a reason
    lines = [
        f"# Task Execution Report: {f.text(t.id)}",
        f"## Task: {f.text(t.title)}",
        f"Priority: {f.text(t.priority)}",
        f"Status: {f.text(t.status)}",
        "## Acceptance Criteria Completed",
        *_completed(report, f),
        "## Acceptance Criteria Remaining",
        *_remaining(report, f),
        *_awaiting(report, f),
        "## Changes Made",
        *_changes(report, f),
        *_timing(report, f),
        "## Progress Log Entry",
        *(f.text(line) for line in report.progress_log or ("(none)",)),
        "## Summary",
        report.summary,
        "## Next Steps",
        *(f"- {step(s)}" if not s.startswith("  ") else step(s) for s in report.next_steps()),
    ]
    return cap_document(escape_controls(redact("\n".join(lines) + "\n")))


def _command_json(c: CommandRecord) -> dict[str, Any]:
    return {
        "argv": list(c.argv),
        "cwd": c.cwd,
        "exit_status": c.exit_status,
        "duration": round(c.duration, 3),
        "timed_out": c.timed_out,
        "output_tail": c.output_tail,
    }


def _criterion_json(r: Result) -> dict[str, Any]:
    c = r.action.criterion
    return {
        "index": c.index,
        "line": c.line + 1,
        "text": c.text,
        "outcome": r.state.value,
        "handler": r.action.handler,
        "params": dict(r.action.params),
        "reason": r.reason,
        "attempts": r.attempts,
        "commands": [_command_json(x) for x in (r.outcome.commands if r.outcome else ())],
        "evidence": list(r.outcome.evidence) if r.outcome else [],
        "diagnosis": list(r.outcome.diagnosis) if r.outcome else [],
    }


def to_json(report: Report, redact: Callable[[str], str] = str) -> dict[str, Any]:
    t = report.task
    doc: dict[str, Any] = {
        "task": {"id": t.id, "title": t.title, "priority": t.priority, "status": t.status,
                 "path": t.path},
        "result": report.result,
        "title": report.title,
        "done": report.done,
        "total": report.total,
        "run_id": report.run_id,
        "criteria": [_criterion_json(r) for r in report.results],
        "remaining": [{"text": text, "reason": why} for text, why in report.remaining],
        "waiting_on": [{"task": d.task_id, "complete": d.complete, "where": d.where}
                       for d in report.waiting_on],
        "changes": [{"repo": c.repo, "path": c.path, "what": c.what} for c in report.changes],
        "progress_log": list(report.progress_log),
        "summary": report.summary,
        "next_steps": list(report.next_steps()),
        "next_action": dict(zip(("action", "reason"), report.next_action(), strict=True)),
    }
    if len(report.groups) > 1:
        doc["timing"] = {"wall": round(report.wall, 3), "groups": [
            {"group": g.name, "project": g.project, "seconds": round(g.seconds, 3)}
            for g in report.groups]}
    if report.awaiting:
        doc["awaiting_approval"] = [{"index": p.criterion, "text": p.text, "digest": p.digest,
                                     "plan": list(p.plan)} for p in report.awaiting]
    redacted: dict[str, Any] = _redact_tree(doc, redact)
    return redacted


def _redact_tree(value: Any, redact: Callable[[str], str], key: str = "") -> Any:
    """Every string redacted, capped and escaped; output tails keep their end."""
    if isinstance(value, str):
        limit = JSON_FIELD_CAP if key in ("argv", "cwd", "output_tail") else FIELD_CAP
        return clean(value, redact, limit, keep_end=key == "output_tail")
    if isinstance(value, list):
        return [_redact_tree(v, redact, key) for v in value]
    if isinstance(value, dict):
        return {k: _redact_tree(v, redact, k) for k, v in value.items()}
    return value
