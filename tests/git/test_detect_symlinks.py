"""Symlinks (and other non-regular entries) in tasks_dir are refused at detection."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2

from bot.git.detect import changed_files, detect

TASK = "# T\n## Acceptance Criteria\n- [ ] Run <!-- taskbot: shell cmd=\"touch CANARY\" -->\n"
WHY = "is a symlink; taskbot never follows or runs symlinks"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x",
           "GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@x"}
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                          env=env, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "tasks-repo"
    (repo / "tasks" / "active").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text(TASK)
    (repo / "tasks" / "active" / "TASK-1.md").write_text("# T1\n")
    return repo, _commit(repo, "start")


def test_symlinks_to_a_file_and_to_a_task_are_refused(tmp_path: Path) -> None:
    repo, old = _repo(tmp_path)
    (repo / "tasks" / "active" / "TASK-9.md").symlink_to("../../README.md")
    (repo / "tasks" / "active" / "TASK-8.md").symlink_to("TASK-1.md")
    new = _commit(repo, "links")
    assert _git(repo, "ls-tree", "HEAD", "tasks/active/TASK-9.md").startswith("120000")
    triggers = detect(pygit2.Repository(str(repo)), old, new, "tasks")
    assert sorted((t.path, t.indices, t.error) for t in triggers) == [
        ("tasks/active/TASK-8.md", (), f"tasks/active/TASK-8.md: {WHY}"),
        ("tasks/active/TASK-9.md", (), f"tasks/active/TASK-9.md: {WHY}"),
    ]
    assert all(c.new == b"" for c in changed_files(pygit2.Repository(str(repo)), old, new,
                                                   "tasks"))


def test_a_task_replaced_by_a_symlink_is_refused(tmp_path: Path) -> None:
    repo, old = _repo(tmp_path)
    task = repo / "tasks" / "active" / "TASK-1.md"
    task.unlink()
    task.symlink_to("../../README.md")
    new = _commit(repo, "typechange")
    (trigger,) = detect(pygit2.Repository(str(repo)), old, new, "tasks")
    assert (trigger.indices, trigger.error) == ((), f"tasks/active/TASK-1.md: {WHY}")


def test_a_symlink_replaced_by_a_file_runs_its_open_criteria(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    link = repo / "tasks" / "active" / "TASK-9.md"
    link.symlink_to("../../README.md")
    old = _commit(repo, "link")
    link.unlink()
    link.write_text(TASK)
    new = _commit(repo, "file")
    (trigger,) = detect(pygit2.Repository(str(repo)), old, new, "tasks")
    assert (trigger.path, trigger.indices, trigger.error) == ("tasks/active/TASK-9.md", (0,), "")
