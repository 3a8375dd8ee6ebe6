"""One definition of "complete" (bot.taskfile.status), used by runs, dependencies and pushes.

Chosen: a task is complete when its file lies under a folder named `completed` (any case),
or it has at least one criterion and all are checked. A task without criteria is not
complete by its boxes, as `Task.complete` always had it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config as configmod
from bot import taskfile
from bot.pipeline import Push, process
from bot.plugin.plugins import load_handlers
from bot.taskfile.lookup import dependency_state
from tests.kit.git import git, sandbox
from tests.pipeline.test_pipeline import DEP_TASK, NOW

NO_CRITERIA = "# TASK-001\n\nNothing to tick.\n"
ALL_CHECKED = "# TASK-001\n## Acceptance Criteria\n- [x] a\n- [X] b\n"
ONE_OPEN = "# TASK-001\n## Acceptance Criteria\n- [x] a\n- [ ] b\n"


def _task(text: str) -> taskfile.Task:
    return taskfile.parse(text.encode(), "TASK-001.md")


@pytest.mark.parametrize(
    ("text", "rel", "complete"),
    [
        (NO_CRITERIA, "tasks/active/TASK-001.md", False),
        (ALL_CHECKED, "tasks/active/TASK-001.md", True),
        (ONE_OPEN, "tasks/active/TASK-001.md", False),
        (ONE_OPEN, "tasks/completed/TASK-001.md", True),
        (ONE_OPEN, "tasks/Completed/TASK-001.md", True),
        (NO_CRITERIA, "tasks/COMPLETED/TASK-001.md", True),
        (ONE_OPEN, "tasks/completed.md", False),  # the file's own name is no folder
        (ONE_OPEN, "tasks/not-completed/TASK-001.md", False),
    ],
)
def test_is_complete(text: str, rel: str, complete: bool) -> None:
    task = _task(text)
    assert taskfile.is_complete(task, rel) is complete
    assert taskfile.is_complete(task, Path(rel)) is complete
    assert task.complete is (complete and text == ALL_CHECKED)


@pytest.mark.parametrize(
    ("text", "folder", "complete", "where"),
    [
        (NO_CRITERIA, "active", False, "no criteria to check in"),
        (ALL_CHECKED, "active", True, "TASK-001.md"),
        (ONE_OPEN, "active", False, "1 criteria open in"),
        (ONE_OPEN, "completed", True, "TASK-001.md"),
        (ONE_OPEN, "Completed", True, "TASK-001.md"),
        (NO_CRITERIA, "Completed", True, "TASK-001.md"),
    ],
)
def test_dependency_state_agrees(tmp_path: Path, text: str, folder: str, complete: bool,
                                 where: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "TASK-001.md").write_text(text)
    state = dependency_state("TASK-001", tmp_path)
    assert state.complete is complete
    assert where in state.where


@pytest.mark.integration
@pytest.mark.parametrize("folder", ["completed", "Completed"])
def test_push_moving_a_dependency_to_a_completed_folder_queues_its_waiter(
        tmp_path: Path, folder: str) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", ONE_OPEN)
    box.write("tasks/active/TASK-002.md", DEP_TASK)
    config = configmod.load(box.config)
    old, new = box.commit_push("two tasks")
    first = {r.task_id: r for r in process(config, load_handlers(), Push(old, new, "refs/heads/main"),
                                           now=NOW)}
    assert first["TASK-002"].report is not None and first["TASK-002"].report.result == "waiting"
    git(box.clone, "pull", "-q", "origin", "main")
    (box.clone / "tasks" / folder).mkdir()
    git(box.clone, "mv", "tasks/active/TASK-001.md", f"tasks/{folder}/TASK-001.md")
    later = process(config, load_handlers(), Push(*box.commit_push("done by hand"),
                                                  "refs/heads/main"), now=NOW)
    assert later and later[-1].reruns == ("TASK-002",)


@pytest.mark.integration
def test_push_of_a_dependency_without_criteria_queues_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-002.md", DEP_TASK)
    config = configmod.load(box.config)
    process(config, load_handlers(), Push(*box.commit_push("waiting task"), "refs/heads/main"),
            now=NOW)
    git(box.clone, "pull", "-q", "origin", "main")
    box.write("tasks/active/TASK-001.md", NO_CRITERIA)
    later = process(config, load_handlers(), Push(*box.commit_push("no boxes"), "refs/heads/main"),
                    now=NOW)
    assert all(r.reruns == () for r in later)
