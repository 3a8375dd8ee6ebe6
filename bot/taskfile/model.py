"""What a task file is, once read: `Task`, its `Criterion`s and `Section`s; and the records
the parts pass around (`Dependency`, `Tick`, `Edit`, `Applied`, `DependencyState`).

Frozen records, built by `bot.taskfile.parse`; a criterion's identity is its line's text
with whitespace normalised, and identical lines are told apart by `occurrences`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Applied", "Criterion", "Dependency", "DependencyState", "Edit", "Section", "Task",
           "Tick", "normalise", "occurrences"]


class Dependency(NamedTuple):
    task_id: str
    depends: bool  # False: blocks, related, independent … — never waited on
    why: str  # the label or lead-in that decided, or "" (no label: a dependency)
    groups: tuple[str, ...]  # Acceptance Criteria groups it blocks; () = the whole task
    line: int  # 0-based line in the file
    text: str  # the item as written, for `plan`
    done: str = ""  # what in the item says the dependency is done (`✅`, `completed`, `[x]`)


@dataclass(frozen=True)
class Criterion:
    index: int
    line: int
    col: int
    checked: bool
    text: str
    raw: str
    annotation: str | None
    depth: int
    group: str

    @property
    def identity(self) -> str:
        """Whitespace-normalised line text after the box, annotation included."""
        return normalise(self.raw)


class Section(NamedTuple):
    title: str
    level: int
    start: int
    end: int


class Task(NamedTuple):
    path: str
    id: str
    title: str
    frontmatter: Mapping[str, Any]
    has_frontmatter: bool
    criteria: tuple[Criterion, ...]
    dependencies: tuple[str, ...]  # the ids waited on (a whole task or one group of it)
    progress_log: tuple[str, ...]
    sections: tuple[Section, ...]
    newline: str
    dependency_items: tuple[Dependency, ...] = ()  # every id of the section, read by meaning

    @property
    def unchecked(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.checked)

    @property
    def complete(self) -> bool:
        """Complete by its boxes: at least one criterion, all checked (see `status.is_complete`)."""
        return bool(self.criteria) and all(c.checked for c in self.criteria)


def normalise(text: str) -> str:
    """Criterion identity of a text: runs of whitespace collapsed, ends stripped."""
    return " ".join(text.split())


def occurrences(criteria: Sequence[Criterion]) -> dict[int, int]:
    """criterion index → how many criteria with the same identity come before it: identical
    lines are counted, as detection, the runner and the journal count them."""
    seen: dict[str, int] = {}
    found: dict[int, int] = {}
    for c in criteria:
        found[c.index] = seen.get(c.identity, 0)
        seen[c.identity] = found[c.index] + 1
    return found


class Tick(NamedTuple):
    """A criterion's identity and which of the criteria with that identity it is (0: the
    first; checked ones counted)."""

    identity: str
    occurrence: int


class DependencyState(NamedTuple):
    """What a lookup found of one dependency: complete or not, and where."""

    task_id: str
    complete: bool
    where: str  # the file found (tasks-root relative), or why it is not complete
    groups: tuple[str, ...] = ()  # the Acceptance Criteria groups it holds; () = all of them
    cycle: str = ""  # "TASK-006 and TASK-007 wait on each other", when they do
    unchecked: int = 0  # the open criteria of the file found
    trusted: str = ""  # complete by the waiting task's word: "completed, as this task says (…)"


@dataclass(frozen=True)
class Edit:
    ticks: tuple[Tick, ...] = ()
    updated: str | None = None
    log: tuple[str, ...] = ()
    frontmatter: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Applied:
    data: bytes
    ticked: tuple[str, ...]
    missing: tuple[str, ...]
