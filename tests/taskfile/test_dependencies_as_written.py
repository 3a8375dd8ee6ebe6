"""Issue 20: dependencies as written — "Required for" points the other way, and each id
of a label is read.

Made-up task files in the operator's shapes (the issue's examples), not his files.
"""

from __future__ import annotations

import pytest

from bot.taskfile import parse

REQUIRED_FOR = """\
---
id: TASK-005
title: Registry
---
# TASK-005

## Acceptance Criteria
- [ ] Registry answers

## Dependencies
- **Required For:** TASK-002, TASK-003
"""


def _kinds(text: str) -> dict[str, bool]:
    return {d.task_id: d.depends for d in parse(text.encode(), "t.md").dependency_items}


@pytest.mark.parametrize("label", [
    "- **Required For:** {ids}", "- Required for: {ids}", "- **Needed for:** {ids}",
    "- Needed by {ids}", "- Prerequisite of {ids}", "**Required For:** {ids}",
    "Needed for: {ids}",
])
def test_a_label_saying_the_named_tasks_need_this_one(label: str) -> None:
    text = REQUIRED_FOR.replace("- **Required For:** TASK-002, TASK-003",
                                label.format(ids="TASK-002, TASK-003"))
    assert _kinds(text) == {"TASK-002": False, "TASK-003": False}
    assert parse(text.encode(), "t.md").dependencies == ()


def test_each_id_of_a_label_is_read() -> None:
    text = ("## Dependencies\n- **Blocked by:** TASK-001, TASK-002; TASK-003\n"
            "- TASK-004 / TASK-005\n- TASK-006 (it needs TASK-007 first)\n"
            "- Depends on TASK-010 and TASK-011\n"  # the first id, as it always read
            "**Required for:** TASK-008, TASK-009\n")
    assert _kinds(text) == {"TASK-001": True, "TASK-002": True, "TASK-003": True,
                            "TASK-004": True, "TASK-005": True, "TASK-006": True,
                            "TASK-010": True, "TASK-008": False, "TASK-009": False}


def test_the_labels_that_still_mean_a_dependency() -> None:
    text = ("## Dependencies\n- **Requires:** TASK-001\n- Depends on TASK-002\n"
            "- TASK-003: required for this task's registry step\n")
    assert _kinds(text) == {"TASK-001": True, "TASK-002": True, "TASK-003": True}
