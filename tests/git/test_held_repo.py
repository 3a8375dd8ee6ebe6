"""A reused worktree keeps its repository object open between runs (`bot.git.heldrepo`), and
with it the index as libgit2 last read or wrote it: what another process writes to the
index in between is read, never overwritten, and any doubt lets the object go."""

from __future__ import annotations

from pathlib import Path

from bot.config import Identity
from bot.git import heldrepo
from bot.git import write as gitrepo
from bot.git.worktree import settle, worktree
from bot.state.memory import Memory
from tests.kit.git import clean_git

WHO = Identity("taskbot", "taskbot@build-host")


def _git(cwd: Path, *args: str) -> str:
    return clean_git(cwd, *args)


def _clone(tmp_path: Path) -> Path:
    repo = tmp_path / "clone"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for name in ("a.md", "b.md"):
        (repo / name).write_text(f"{name}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "seed")
    return repo


def test_a_settled_worktree_keeps_its_repository_and_sees_what_git_staged(tmp_path: Path
                                                                         ) -> None:
    clone, memory = _clone(tmp_path), Memory()  # the process's, as the daemon's
    wt = worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory)
    held = heldrepo.get(memory, wt)
    assert held is not None
    (wt / "a.md").write_text("a run wrote this\n")
    assert gitrepo.commit(wt, "run 1\n", WHO, ["a.md"], memory) is not None
    settle(wt, memory)
    start = _git(wt, "rev-parse", "HEAD")
    assert worktree(clone, tmp_path / "state", "taskbot/T", start, memory=memory) == wt
    assert heldrepo.get(memory, wt) is held  # settled: the same object, its index not read again
    (wt / "b.md").write_text("staged by git\n")
    _git(wt, "add", "b.md")  # another process writes the index
    (wt / "a.md").write_text("a run wrote this too\n")
    assert gitrepo.commit(wt, "run 2\n", WHO, ["a.md"], memory) is not None
    assert _git(wt, "diff", "--cached", "--name-only") == "b.md"  # git's staging kept
    assert _git(wt, "show", "HEAD:b.md") == "b.md"  # and not committed by the run
    assert _git(wt, "status", "--porcelain") == "M  b.md"


def test_a_worktree_not_settled_opens_its_repository_afresh(tmp_path: Path) -> None:
    clone, memory = _clone(tmp_path), Memory()  # the process's, as the daemon's
    wt = worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory)
    held = heldrepo.get(memory, wt)
    (wt / "a.md").write_text("left behind by a run that failed\n")
    assert worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory) == wt
    assert heldrepo.get(memory, wt) is not held
    assert _git(wt, "status", "--porcelain", "--ignored") == ""
    assert (wt / "a.md").read_text() == "a.md\n"


def test_a_repack_lets_the_kept_repository_go(tmp_path: Path) -> None:
    """Packs removed by git's gc would stay open, their space taken, in a kept object."""
    clone, memory = _clone(tmp_path), Memory()  # the process's, as the daemon's
    wt = worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory)
    assert heldrepo.get(memory, wt) is not None
    _git(clone, "gc", "-q")
    assert heldrepo.get(memory, wt) is None


def test_a_settled_reset_never_writes_through_a_link_in_a_files_place(tmp_path: Path) -> None:
    """A settled worktree whose file became a link (nothing of taskbot's makes one): the
    reset that only writes what differs writes nothing through it; the full one resets."""
    clone, memory = _clone(tmp_path), Memory()  # the process's, as the daemon's
    outside = tmp_path / "outside.txt"
    outside.write_text("not the worktree's\n")
    wt = worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory)
    settle(wt, memory)
    (clone / "a.md").write_text("a changed on main\n")
    _git(clone, "commit", "-qam", "change a")
    (wt / "a.md").unlink()
    (wt / "a.md").symlink_to(outside)
    assert worktree(clone, tmp_path / "state", "taskbot/T", "main", memory=memory) == wt
    assert outside.read_text() == "not the worktree's\n"
    assert not (wt / "a.md").is_symlink()
    assert (wt / "a.md").read_text() == "a changed on main\n"
