"""`bot.git.write`: worktrees reset for each run; `push_ff` without an origin moves a bare
repository's branch only by fast-forward."""

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


def _as_git_leaves_it(work: Path, branch: str, sha: str) -> None:
    assert git(work, "symbolic-ref", "HEAD") == f"refs/heads/{branch}"
    assert git(work, "rev-parse", "HEAD") == sha
    assert git(work, "status", "--porcelain", "--ignored") == ""


def test_a_reused_worktree_is_reset_like_git_checkout_force_B(tmp_path: Path) -> None:
    """The second run of a task reuses its worktree (libgit2, no git process): whether the
    worktree is still on its branch or detached after a landed run, it ends on the branch
    at the start commit, a person-free copy of it, as `git checkout --force -B` leaves it."""
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    start = git(box.bare, "rev-parse", "main")
    work = gitrepo.worktree(box.bare, state, "taskbot/T-1", start)
    (work / "docs.md").write_text("half-done edit\n")
    (work / "stray.txt").write_text("left by a killed run\n")
    sha = gitrepo.commit(work, "edit\n", Identity(), ["docs.md"])
    assert sha is not None

    again = gitrepo.worktree(box.bare, state, "taskbot/T-1", start)  # on its branch
    assert again == work
    _as_git_leaves_it(work, "taskbot/T-1", start)

    gitrepo.drop_branch(work, "taskbot/T-1")  # as after a landed run: detached, branch gone
    (work / "docs.md").write_text("changed while detached\n")
    assert gitrepo.worktree(box.bare, state, "taskbot/T-1", sha) == work
    _as_git_leaves_it(work, "taskbot/T-1", sha)
    assert (work / "docs.md").read_text() == "half-done edit\n"


def test_a_worktree_with_gitattributes_is_reset_by_git(tmp_path: Path) -> None:
    """Where git and libgit2 could write different bytes (attributes, filter drivers), git
    resets the worktree: the file is what `git checkout` writes (here CRLF by eol=crlf)."""
    box = sandbox(tmp_path)
    (box.clone / ".gitattributes").write_text("*.md text eol=crlf\n")
    (box.clone / "notes.md").write_text("one\ntwo\n")
    _, start = box.commit_push("attributes")
    state = tmp_path / "state"
    work = gitrepo.worktree(box.bare, state, "taskbot/T-2", start)
    (work / "notes.md").write_bytes(b"edited\n")
    gitrepo.drop_branch(work, "taskbot/T-2")
    assert gitrepo.worktree(box.bare, state, "taskbot/T-2", start) == work
    assert (work / "notes.md").read_bytes() == b"one\r\ntwo\r\n"
    _as_git_leaves_it(work, "taskbot/T-2", start)


def test_a_reused_worktree_loses_files_the_start_commit_does_not_have(tmp_path: Path) -> None:
    """Reset to a commit without a file removes it, detached or on the branch: a stale file
    would otherwise ride along in the next `git add --all`."""
    box = sandbox(tmp_path)
    box.write("gone.md", "soon removed\n")
    _, with_file = box.commit_push("add")
    (box.clone / "gone.md").unlink()
    _, without = box.commit_push("remove")
    state = tmp_path / "state"
    work = gitrepo.worktree(box.bare, state, "taskbot/T-3", with_file)
    assert (work / "gone.md").exists()
    gitrepo.drop_branch(work, "taskbot/T-3")
    gitrepo.worktree(box.bare, state, "taskbot/T-3", without)
    assert not (work / "gone.md").exists()
    _as_git_leaves_it(work, "taskbot/T-3", without)
    gitrepo.worktree(box.bare, state, "taskbot/T-3", with_file)
    gitrepo.worktree(box.bare, state, "taskbot/T-3", without)  # on the branch this time
    assert not (work / "gone.md").exists()
    _as_git_leaves_it(work, "taskbot/T-3", without)


ENCODED = "*.md working-tree-encoding=UTF-16LE\n"


@pytest.mark.parametrize("how", ["encoding in a subdirectory's .gitattributes",
                                 "encoding in info/attributes", "autocrlf from the environment"])
def test_what_makes_git_write_other_bytes_sends_the_reset_to_git(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Where libgit2 would write the blob's UTF-8/LF bytes and git writes others (libgit2 knows
    no `working-tree-encoding` and reads no config from the environment), git resets."""
    box = sandbox(tmp_path)
    (box.clone / "docs").mkdir()
    if how.endswith("subdirectory's .gitattributes"):
        (box.clone / "docs" / ".gitattributes").write_text(ENCODED)
    (box.clone / "docs" / "notes.md").write_bytes("one\ntwo\n".encode(
        "utf-16-le" if "subdirectory" in how else "utf-8"))
    _, first = box.commit_push("notes")
    state = tmp_path / "state"
    work = gitrepo.worktree(box.bare, state, "taskbot/T-4", first)
    text = "one\ntwo\nthree\n"
    (work / "docs" / "notes.md").write_bytes(text.encode(
        "utf-16-le" if "subdirectory" in how else "utf-8"))
    second = gitrepo.commit(work, "more notes\n", Identity())
    assert second is not None
    gitrepo.drop_branch(work, "taskbot/T-4")
    gitrepo.worktree(box.bare, state, "taskbot/T-4", first)
    expected = text.encode("utf-16-le")
    if how == "encoding in info/attributes":
        common = box.bare / "info"
        common.mkdir(exist_ok=True)
        (common / "attributes").write_text(ENCODED)
        blob = text.encode()  # committed as UTF-8 before the attribute existed
        (work / "docs" / "notes.md").write_bytes(blob)
    elif how == "autocrlf from the environment":
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.autocrlf")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")
        expected = text.replace("\n", "\r\n").encode()
    gitrepo.worktree(box.bare, state, "taskbot/T-4", second)
    assert (work / "docs" / "notes.md").read_bytes() == expected
    assert git(work, "rev-parse", "HEAD") == second
