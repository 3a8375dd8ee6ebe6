"""No clutter: after a fast-forward no `taskbot/<ID>` work branch is left anywhere, and a
person's clone in watch mode shows no branch or worktree of taskbot's. Only branches kept
for a person remain."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.config import Identity
from bot.git import worktree as worktrees
from bot.git import write as gitrepo
from bot.pipeline import Processed, Push, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import Sandbox, git, sandbox

pytestmark = pytest.mark.integration

TASK = """\
---
id: TASK-001
title: One shell criterion
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->
"""
NOW = datetime(2026, 11, 26, 14, 30).astimezone()
REL = "tasks/active/TASK-001.md"


def _branches(repo: Path, pattern: str = "*") -> list[str]:
    return git(repo, "branch", "--list", "--format=%(refname:short)", pattern).split()


def _run(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    return process(configmod.load(box.config), load_handlers(),
                   Push(old, new, "refs/heads/main"), now=NOW)


def _commit_in_clone(box: Sandbox) -> tuple[str, str]:
    old = git(box.clone, "rev-parse", "HEAD")
    box.write(REL, TASK)
    git(box.clone, "add", "tasks")
    git(box.clone, "commit", "-q", "-m", "add task")
    return old, git(box.clone, "rev-parse", "HEAD")


def _private_clones(box: Sandbox) -> list[Path]:
    return sorted((box.root / "state" / "clones").iterdir())


def test_watch_mode_leaves_no_branch_or_worktree_in_the_persons_clone(tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    before = _branches(box.clone)
    results = _run(box, *_commit_in_clone(box))
    assert results[0].commit == git(box.clone, "rev-parse", "main")
    assert "- [x] Works" in (box.clone / REL).read_text()
    assert _branches(box.clone) == before == ["main"]
    listed = git(box.clone, "worktree", "list", "--porcelain").splitlines()
    assert [line for line in listed if line.startswith("worktree ")] == [
        f"worktree {box.clone}"]
    assert not (box.clone / ".git" / "FETCH_HEAD").exists()
    # the report is still where `git log --notes=taskbot` in the clone shows it
    assert "TASK-001" in git(box.clone, "notes", "--ref=taskbot", "show", "main")
    [private] = _private_clones(box)
    assert _branches(private, "taskbot/*") == []


def test_watch_mode_keeps_the_work_for_a_person_when_the_task_file_is_being_edited(
        tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    old, new = _commit_in_clone(box)
    (box.clone / REL).write_text(TASK + "\nunsaved thoughts\n")
    results = _run(box, old, new)
    assert results[0].commit is None
    assert git(box.clone, "rev-parse", "main") == new
    assert (box.clone / REL).read_text().endswith("unsaved thoughts\n")
    assert _branches(box.clone) == ["main", "taskbot/TASK-001"]
    assert "- [x] Works" in git(box.clone, "show", f"taskbot/TASK-001:{REL}")
    assert len(git(box.clone, "worktree", "list", "--porcelain").split("\n\n")) == 1


def test_hook_mode_fast_forward_leaves_no_work_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write(REL, TASK)
    results = _run(box, *box.commit_push("add task"))
    assert results[0].commit == git(box.bare, "rev-parse", "main")
    assert _branches(box.bare, "taskbot/*") == []
    [private] = _private_clones(box)
    assert _branches(private, "taskbot/*") == []


def test_hook_mode_branch_kept_for_a_person_remains(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.config.write_text(box.config.read_text().replace('integrate = "ff"',
                                                         'integrate = "branch"'))
    box.write(REL, TASK)
    results = _run(box, *box.commit_push("add task"))
    assert results[0].commit is None
    assert _branches(box.bare, "taskbot/*") == ["taskbot/TASK-001"]


def _gitops_commit(box: Sandbox, branch: str, start: str = "main") -> Path:
    work = worktrees.worktree(box.clone, box.root / "state", branch, start)
    (work / f"{branch.replace('/', '-')}.yaml").write_text("tag: v2\n")
    assert gitrepo.commit(work, "bump\n", Identity()) is not None
    return work


def test_push_ff_to_a_gitops_origin_deletes_the_work_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("x.md", "x\n")
    box.commit_push("start")
    work = _gitops_commit(box, "taskbot/T-1")
    git(work, "push", "-q", "origin", "HEAD~1:refs/heads/taskbot/T-1")  # an earlier run kept it
    assert gitrepo.push_ff(work, "taskbot/T-1", "main") == "pushed to origin main"
    assert git(box.bare, "rev-parse", "main") == git(work, "rev-parse", "HEAD")
    assert _branches(box.bare, "taskbot/*") == []  # merged into main: nothing left to keep
    assert _branches(box.clone, "taskbot/*") == []

    late = _gitops_commit(box, "taskbot/T-2", "main~1")  # origin moved meanwhile
    with pytest.raises(gitrepo.GitError, match="branch taskbot/T-2 pushed"):
        gitrepo.push_ff(late, "taskbot/T-2", "main")
    assert _branches(box.bare, "taskbot/*") == ["taskbot/T-2"]  # kept for a person


def test_push_ff_without_origin_deletes_the_branch_in_the_bare_repository(tmp_path: Path
                                                                          ) -> None:
    box = sandbox(tmp_path)
    box.write("x.md", "x\n")
    box.commit_push("start")
    work = worktrees.worktree(box.bare, box.root / "state", "taskbot/T-1", "main")
    (work / "y.md").write_text("y\n")
    assert gitrepo.commit(work, "y\n", Identity()) is not None
    assert gitrepo.push_ff(work, "taskbot/T-1", "main") == "main fast-forwarded"
    assert _branches(box.bare, "taskbot/*") == []
