"""`plan`'s "Not executed" line: the groups of boxes taskbot plans nothing for, each with
its count of unchecked boxes.

A group is an Acceptance Criteria subsection (its criteria's `group`; the criteria under
no subheading are "Acceptance Criteria"), or any other section of the file holding
unchecked boxes of its own (a "Testing Checklist" taskbot never reads as criteria). A group
is named only when nothing in it is planned: none of its unchecked criteria has a handler.
A section without unchecked boxes (a description, notes) is no group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from bot.run.runmodel import Action
from bot.taskfile.blocks import section_key
from bot.taskfile.model import Task

_BOX_RE = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+\[ \]", re.MULTILINE)
_NOT_GROUPS = ("dependencies", "progress log")
_AC = "acceptance criteria"


class Group(NamedTuple):
    line: int  # where it starts: the line of its first unchecked box or its heading
    title: str
    unchecked: int


def not_executed(task: Task, text: str, actions: Sequence[Action]) -> list[Group]:
    """The groups with unchecked boxes and nothing planned, in document order."""
    return sorted([*_criteria_groups(actions), *_other_sections(task, text)])


def _criteria_groups(actions: Sequence[Action]) -> list[Group]:
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    planned: set[str] = set()
    for a in actions:
        c = a.criterion
        if c.checked:
            continue
        first.setdefault(c.group, c.line)
        counts[c.group] = counts.get(c.group, 0) + 1
        if a.handler is not None:
            planned.add(c.group)
    return [Group(first[g], g or "Acceptance Criteria", n) for g, n in counts.items()
            if g not in planned]


def _other_sections(task: Task, text: str) -> list[Group]:
    """Sections outside Acceptance Criteria with unchecked boxes in their own lines (up to
    the next heading of any level)."""
    lines = text.splitlines()
    starts = sorted(s.start for s in task.sections)
    ac = [s for s in task.sections if section_key(s.title) == _AC]
    found: list[Group] = []
    for s in task.sections:
        if section_key(s.title) in (_AC, *_NOT_GROUPS) or any(
                a.start <= s.start < a.end for a in ac):
            continue
        own_end = next((start for start in starts if start > s.start), len(lines))
        body = "\n".join(lines[s.start + 1: own_end])
        count = len(_BOX_RE.findall(body))
        if count:
            found.append(Group(s.start, s.title, count))
    return found
