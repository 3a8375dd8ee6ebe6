"""Files of an item that are not run: one report for all of them, kept apart from tasks'."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.notify import redactor
from bot.notify.publish import publish_report
from bot.pipeline.items import Job, Processed, step
from bot.run.report import Report, TaskInfo
from bot.run.runmodel import TaskResult

__all__ = ["MAX_REFUSALS_SHOWN", "REFUSED", "refused", "refused_all"]

# Where refusals' reports are kept, apart from every task's (a task would have to be
# called `.refused` to share them).
REFUSED = ".refused"
MAX_REFUSALS_SHOWN = 20  # files named in one refusal report; the rest are counted


def refused(job: Job, rel_path: str, why: str) -> Processed:
    return refused_all(job, [(rel_path, why)], rel_path)


def refused_all(job: Job, refusals: Sequence[tuple[str, str]], what: str) -> Processed:
    """One report for every file of an item that is not run, however many: one
    notification a push. It is stored apart from the tasks' own reports (`REFUSED`), so a
    file named like a task (`evil/TASK-1.md`), or thousands of names, never take a task's
    place in `taskbot report` or `status`."""
    config, now = job.config, job.now
    path = refusals[0][0]
    name = Path(path).stem if len(refusals) == 1 else f"{len(refusals)} files of {what}"
    notes = tuple(why if why.startswith(path) else f"{path}: {why}"
                  for path, why in refusals[:MAX_REFUSALS_SHOWN])
    if len(refusals) > MAX_REFUSALS_SHOWN:
        notes += (f"… and {len(refusals) - MAX_REFUSALS_SHOWN} more files not run",)
    report = Report(TaskInfo(name, name, "-", "-", path), TaskResult.BLOCKED, 0, 0, (), (), (), (),
                    (), f"{now:%Y%m%dT%H%M%S}-refused", notes=notes)
    tj = job.journal.task(f"refused {what}") if job.journal is not None else None
    if tj is None or not tj.step("published"):  # a resumed item does not report twice
        publish_report(config, report, redactor(config), store_as=REFUSED)
        step(tj, "published")
    return Processed(name, report, None, message="; ".join(notes))
