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


@pytest.mark.parametrize(("item", "done"), [
    ("- TASK-006 – monitoring stack (COMPLETED ✅)", "COMPLETED"),
    ("- TASK-006 ✅", "✅"),
    ("- ✅ TASK-006 monitoring", "✅"),
    ("- [x] TASK-006 monitoring", "[x]"),
    ("- TASK-006: done", "done"),
    ("- **TASK-006**: Completed", "Completed"),
    ("- TASK-006 - finished 2026-01-02", "finished"),
    ("- TASK-006 (done), TASK-007", "done"),
    ("- [ ] TASK-006 monitoring", ""),
    ("- TASK-006: must be completed first", ""),
    ("- TASK-006 (not done yet)", ""),
    ("- Depends on TASK-006 being done", ""),
    ("- TASK-006 (needs to be completed)", ""),
    ("- TASK-006: Complete the migration before this", ""),
    ("- TASK-006: done when the registry answers", ""),
])
def test_the_persons_word_that_a_dependency_is_done(item: str, done: str) -> None:
    task = parse(f"## Dependencies\n{item}\n".encode(), "t.md")
    first = task.dependency_items[0]
    assert (first.task_id, first.depends, first.done) == ("TASK-006", True, done)
    assert ("TASK-006" in task.dependencies) == (not done)


def test_an_id_done_in_one_item_is_done() -> None:
    """Said done once (a status line under the list), it is not waited on."""
    text = ("## Dependencies\n- Blocked by TASK-006\n- TASK-006 ✅\n"
            "**Blocked by:** TASK-007 ✅, TASK-008\n")
    task = parse(text.encode(), "t.md")
    assert task.dependencies == ("TASK-008",)
