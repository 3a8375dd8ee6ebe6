"""The records of a run, from a criterion's action to the task's result word.

The core and the handlers share them (`bot.api` re-exports the handlers' part). The
enums are `StrEnum`s: a member is its value, so the journal, status.json, the commit
trailers and the JSON report read exactly as the bare strings they replace, and a
comparison with such a string still holds.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from bot.taskfile.model import Criterion, Tick

if TYPE_CHECKING:  # not a cycle: bot.proc costs imports only running a command needs
    from bot.proc import CommandRecord

__all__ = ["Action", "CriterionState", "DefaultRule", "FileChange", "GroupTime", "JournalStep",
           "Outcome", "Result", "Status", "Step", "TaskResult", "Tool", "new_run_id",
           "project_keys"]


class Status(StrEnum):
    """What a handler says of its criterion."""

    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"


class CriterionState(StrEnum):
    """What happened to a criterion in a run: a handler's `Status`, by value, or why none ran."""

    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    MANUAL = "manual"
    SKIPPED = "skipped"  # dry run
    INTERRUPTED = "interrupted"
    WAITING = "waiting"  # its group waits on another task


class TaskResult(StrEnum):
    """A task's result word: the report's, the trailer's and status.json's."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    BLOCKED = "blocked"
    WAITING = "waiting"


class JournalStep(StrEnum):
    """The steps after a task's run that the journal records (`TaskJournal.step`)."""

    RUN_ID = "run_id"
    NOW = "now"
    COMMIT = "commit"
    MOVED = "moved"
    INTEGRATED = "integrated"
    NOTED = "noted"
    PUBLISHED = "published"
    PROGRESS = "progress"  # the run's progress notification went out (at most one per run)


class FileChange(NamedTuple):
    """A file a handler changed: `repo` is a label (project name or tasks repo)."""

    repo: str
    path: str
    what: str


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str = ""
    commands: tuple[CommandRecord, ...] = ()
    changes: tuple[FileChange, ...] = ()
    evidence: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()
    summary: str = ""  # what the handler did, in one line: the Progress Log says this
    final: bool = False  # another attempt cannot change it (a release rolled back): no retry


class GroupTime(NamedTuple):
    """How long a group of the Acceptance Criteria took in a run, wall time."""

    name: str  # its sub-heading ("" for criteria under none)
    project: str  # the one project it worked for ("" for a barrier: several or none)
    seconds: float


class Step(NamedTuple):
    """What a handler would do, shown by `taskbot plan` without running anything."""

    commands: tuple[tuple[str, ...], ...] = ()
    cwd: str = ""
    files: tuple[str, ...] = ()
    preconditions: tuple[str, ...] = ()
    then: tuple[str, ...] = ()  # after its commands: what it waits for, what a failure undoes
    # what the plan was made from, beyond its settings ("gitops:apps/x.yaml@<blob>"): an
    # approval of the plan is void once one of them changes
    inputs: tuple[str, ...] = ()


class DefaultRule(NamedTuple):
    """Phrasing a handler understands out of the box; named groups become parameters."""

    match: str
    params: Mapping[str, str] = MappingProxyType({})


class Tool(NamedTuple):
    """A program `taskbot doctor` looks for on PATH when a project sets `key` (or, with
    `cluster`, when `[cluster]` is configured). A project-key record lists its tools as
    `tools`; doctor checks each `label` once, in the order first listed."""

    label: str
    programs: tuple[str, ...]
    missing: str  # what doctor says when none of `programs` is found
    key: str
    cluster: bool = False
    alternatives: bool = False  # any will do: doctor names every one found, not a path
    builds_here: bool = False  # not for a project whose builds run as Kubernetes Jobs


class Action(NamedTuple):
    criterion: Criterion
    handler: str | None  # None: manual, waits for a person
    source: str  # "annotation", "rule N", "default rule", "manual"
    params: Mapping[str, str] = MappingProxyType({})
    settings: Any = None
    error: str = ""  # why the action is refused; it then never runs
    blocked: str = ""  # the words of its own text that mark it blocked ("BLOCKED: See TASK-005")

    @property
    def manual(self) -> bool:
        """Waits for a person: no handler, and nothing refuses it (a criterion its text marks
        blocked has no handler either, but is blocked)."""
        return self.handler is None and not self.error

    def describe(self) -> str:
        if self.blocked and self.handler is None:
            return f"blocked: {self.error}"
        if self.handler is None:
            return "manual: waiting for a person"
        words = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.params.items())
        return f"{self.handler} {words}".rstrip()


@dataclass(frozen=True)
class Result:
    action: Action
    state: CriterionState
    outcome: Outcome | None = None
    attempts: int = 0
    rerun: bool = False  # it was running when taskbot was killed, and ran once more
    occurrence: int = 0  # which of the criteria with its identity it is (0: the first)

    @property
    def tick(self) -> Tick:
        """The criterion this result is of, as an edit names it: never by its text alone."""
        return Tick(self.action.criterion.identity, self.occurrence)

    @property
    def reason(self) -> str:
        if self.state is CriterionState.MANUAL:
            return "manual: waiting for a person"
        if self.state is CriterionState.SKIPPED:
            return "dry run: not executed"
        if self.state is CriterionState.WAITING and self.outcome:
            return self.outcome.reason
        if self.action.error:
            return self.action.error
        return self.outcome.reason if self.outcome else ""

    @property
    def attempted(self) -> bool:
        return self.state in (CriterionState.DONE, CriterionState.FAILED,
                              CriterionState.BLOCKED, CriterionState.INTERRUPTED)


def new_run_id(now: datetime) -> str:
    """A run's id: its local start time and three random bytes (two runs in one second)."""
    return f"{now:%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"


def project_keys(handler: object) -> tuple[str, ...]:
    """The parameters naming the project a criterion works for, nearest claim first: the
    handler's `inherits_from` ("Update all `ffl` HelmReleases in beckerkube" is ffl's),
    then `project`."""
    return (*getattr(handler, "inherits_from", ()), "project")
