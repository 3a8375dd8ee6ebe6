"""Flat over time (issue 17, finding 6): a real daemon with its hook, real pushes of new tasks.

The state dir holds one worktree per repository, reused by every run, not one per task id
ever run; a run killed with SIGKILL resumes in it, and the next task's run there commits
only its own change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import await_path, installed, task_text
from tests.kit.git import Sandbox, git

pytestmark = pytest.mark.integration

WAIT_FOR_GO = ("sh -c 'touch {d}/started; i=0; while [ ! -e {d}/go ] && [ $i -lt 300 ]; "
               "do sleep 0.05; i=$((i+1)); done; test -e {d}/go'")


def _done(state: Path, *task_ids: str) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and all(t in tasks for t in task_ids) and \
        idle_and_empty(state)()


def _entries(root: Path) -> int:
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(root))


def _add_tasks(box: Sandbox, *task_ids: str) -> None:
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")  # taskbot's commits
    for task_id in task_ids:
        box.write(f"tasks/active/{task_id}.md", task_text(task_id, [("Check", "true")]))
    box.commit_push(f"add {', '.join(task_ids)}")


def test_the_state_dir_stays_flat_over_pushes_of_new_tasks(tmp_path: Path) -> None:
    """Twelve new tasks, three a push, in a repository of 150 files: no checkout per task
    (150 files each); what a run leaves is its report and the git objects of its commit,
    packed past a limit."""
    box = installed(tmp_path)
    state = box.root / "state"
    for n in range(150):
        box.write(f"docs/page-{n:03d}.md", f"page {n}\n")
    box.commit_push("docs")
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _add_tasks(box, "T-00")
        until(daemon.notify, lambda: _done(state, "T-00"))
        before, worktrees = _entries(state), sorted(os.listdir(state / "worktrees"))
        slots = sorted(os.listdir(state / "worktrees" / worktrees[0]))
        ids = [f"T-{n:02d}" for n in range(1, 13)]
        for push in (ids[0:3], ids[3:6], ids[6:9], ids[9:12]):
            _add_tasks(box, *push)
            until(daemon.notify, lambda push=push: _done(state, *push))  # type: ignore[misc]
    for task_id in ids:
        assert "- [x] Check" in box.main_file(f"tasks/active/{task_id}.md")
    assert sorted(os.listdir(state / "worktrees")) == worktrees
    assert sorted(os.listdir(state / "worktrees" / worktrees[0])) == slots == ["@0", "@0.lock"]
    grown = _entries(state) - before
    assert grown <= 30 * len(ids), f"{grown} entries for {len(ids)} tasks"


def test_kill_9_mid_run_resumes_in_the_reused_worktree(tmp_path: Path) -> None:
    """A run killed mid-criterion resumes in the repository's one worktree after a restart
    and lands once; the next task's run there commits its own change and nothing else."""
    box = installed(tmp_path)
    state = box.root / "state"
    marks, count = tmp_path / "marks", tmp_path / "COUNT"
    marks.mkdir()
    box.write("tasks/active/TASK-A.md", task_text("TASK-A", [
        ("Build", f"sh -c 'echo x >> {count}'"), ("Deploy", WAIT_FOR_GO.format(d=marks))]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("add TASK-A")
        await_path(marks / "started")  # Build ended, Deploy is running
        daemon.proc.kill()
        daemon.proc.wait(10)
    (marks / "started").unlink()
    _add_tasks(box, "TASK-B")  # spooled by the hook while the daemon is down
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        await_path(marks / "started")  # the interrupted criterion runs once more
        (marks / "go").touch()
        until(daemon.notify, lambda: _done(state, "TASK-A", "TASK-B"))
    assert count.read_text().splitlines() == ["x"]
    bot = [line.split(" ", 1)[1] for line in git(box.bare, "log", "--format=%ae %s",
                                                  "main").splitlines()
           if line.startswith("taskbot@")]
    assert bot == ["taskbot(TASK-B): complete, 1/1 criteria done",
                   "taskbot(TASK-A): complete, 2/2 criteria done"]
    changed = git(box.bare, "show", "--format=", "--name-only", "main").splitlines()
    assert changed == ["tasks/active/TASK-B.md"]
    a = box.main_file("tasks/active/TASK-A.md")
    assert "- [x] Build" in a and "- [x] Deploy" in a
    (repo,) = (state / "worktrees").iterdir()
    assert sorted(p.name for p in repo.iterdir()) == ["@0", "@0.lock"]
    assert git(repo / "@0", "status", "--porcelain", "--ignored") == ""
