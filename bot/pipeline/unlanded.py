"""Ticks kept on a work branch (the branch refused taskbot's push) until a person lands
them: remembered so the criterion is never run again, forgotten once the tick is there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pygit2

from bot.errors import TaskbotError
from bot.git import read
from bot.git.detect import changed_files
from bot.git.target import Integrated
from bot.pipeline.places import Places
from bot.run.journal import Recorded, TaskJournal, Unlanded, outcome_from_json, outcome_to_json
from bot.run.report import Report
from bot.run.runmodel import Outcome, Status
from bot.run.runner import State
from bot.taskfile.model import occurrences
from bot.taskfile.parse import parse as parse_task

__all__ = ["Remembered", "lands_kept_work", "prune", "remember"]


def key(identity: str, occurrence: int) -> str:
    """A criterion in the unlanded record: identical lines counted, like everywhere."""
    return f"{occurrence}:{identity}"


class Remembered:
    """What the runner must not run again: outcomes of the item in flight (the journal), and
    criteria done earlier whose tick waits on a kept branch (`Unlanded`)."""

    def __init__(self, tj: TaskJournal | None, unlanded: Mapping[str, Any]) -> None:
        self._tj = tj
        self._unlanded = unlanded

    def recorded(self, identity: str, occurrence: int) -> Recorded | None:
        kept = self._tj.recorded(identity, occurrence) if self._tj is not None else None
        earlier = self._unlanded.get(key(identity, occurrence))
        if kept is not None or not isinstance(earlier, dict):
            return kept
        outcome = outcome_from_json(earlier.get("outcome")) or Outcome(Status.DONE)
        said = (f"done in run {earlier.get('run_id')}; its tick waited on "
                f"{earlier.get('branch')}, not run again")
        return Recorded("done", 0, replace(outcome, summary=said))

    def was_interrupted(self, identity: str, occurrence: int) -> bool:
        return self._tj is not None and self._tj.was_interrupted(identity, occurrence)

    def started(self, identity: str, occurrence: int) -> None:
        if self._tj is not None:
            self._tj.started(identity, occurrence)

    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None:
        if self._tj is not None:
            self._tj.ended(identity, occurrence, state, attempts, outcome)


def lands_kept_work(places: Places, pushed: read.Range) -> bool:
    """Whether the range brings a commit taskbot kept on a branch for a person."""
    kept = Unlanded(places.state).commits()
    return bool(kept) and any(c.sha in kept for c in pushed.commits)


def prune(places: Places, repo: pygit2.Repository, old: str | None, new: str) -> None:
    """Ticks a person brought to the branch (merging a kept branch, ticking by hand) end
    their wait: the criterion may run again once someone unticks it."""
    unlanded = Unlanded(places.state)
    if not unlanded:
        return
    for change in changed_files(repo, old, new, places.tasks_dir):
        if change.error:
            continue
        try:
            task = parse_task(change.new, change.path)
        except TaskbotError:
            continue
        waiting = unlanded.of(task.id)
        occurrence = occurrences(task.criteria)
        ticked = [k for c in task.criteria if c.checked
                  and (k := key(c.identity, occurrence[c.index])) in waiting]
        if ticked:
            unlanded.drop(task.id, ticked)


def remember(unlanded: Unlanded, task_id: str, report: Report, done: Integrated,
             work_branch: str, before: bytes, rel_path: str) -> None:
    """A tick that reached the branch is done with; one kept on `work_branch` is remembered,
    so that the criterion is never run again before a person merges it. Only the criteria
    this run ticked are settled by its landing: others may still wait on an older branch."""
    occurrence = occurrences(parse_task(before, rel_path).criteria)
    done_here = {key(r.action.criterion.identity, occurrence.get(r.action.criterion.index, 0)): r
                 for r in report.results if r.state is State.DONE}
    if done.on_branch:
        unlanded.drop(task_id, done_here)
        return
    unlanded.add(task_id, {k: {"run_id": report.run_id, "branch": work_branch,
                               "commit": done.commit, "outcome": outcome_to_json(r.outcome)}
                           for k, r in done_here.items()})
