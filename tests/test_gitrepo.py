"""`bot.gitrepo.push_ff` without an origin: a bare repository's branch moves only by fast-forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Identity
from bot.git import write as gitrepo
from tests.gitfixtures import git, sandbox

pytestmark = pytest.mark.integration


def test_worktree_of_a_bare_repo_fast_forwards_or_keeps_the_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    first = gitrepo.prepare_worktree(box.bare, state, "taskbot/T-1", "main")
    (first / "docs.md").write_text("new address\n")
    sha = gitrepo.commit(first, "edit docs\n", Identity())
    assert sha is not None
    assert gitrepo.push_ff(first, "taskbot/T-1", "main") == "main fast-forwarded"
    assert git(box.bare, "rev-parse", "main") == sha

    second = gitrepo.worktree(box.bare, state, "taskbot/T-2", f"{sha}~1")
    (second / "other.md").write_text("diverged\n")
    assert gitrepo.commit(second, "diverge\n", Identity()) is not None
    said = gitrepo.push_ff(second, "taskbot/T-2", "main")
    assert said == "main moved meanwhile: branch taskbot/T-2 kept for a person to merge"
    assert git(box.bare, "rev-parse", "main") == sha


def test_clone_without_origin_keeps_the_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    git(box.clone, "remote", "remove", "origin")
    work = gitrepo.prepare_worktree(box.clone, tmp_path / "state", "taskbot/T-1", "main")
    (work / "x.md").write_text("x\n")
    assert gitrepo.commit(work, "x\n", Identity()) is not None
    before = git(box.clone, "rev-parse", "main")
    assert gitrepo.push_ff(work, "taskbot/T-1", "main") == (
        "no origin: branch taskbot/T-1 kept for a person to merge")
    assert git(box.clone, "rev-parse", "main") == before
