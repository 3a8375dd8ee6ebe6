"""The sparse worktree's patterns (`bot.git.sparse`): each names one file literally, never a
folder of that name, and reads back to the paths it was written from."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.git import sparse
from tests.kit.git import git

ODD = ("t/a b/x*[1].md", "t/#h.md", "t/!n.md", "t/q?.md", "t/back\\s.md", "DASH.md")


def _repo(root: Path) -> Path:
    clone = root / "c"
    subprocess.run(["git", "init", "-q", "-b", "main", str(clone)], check=True)
    for rel in (*ODD, "t/a b/xA[1].md", "t/qq.md", "big/x.md/inside.bin", "other.bin"):
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        (clone / rel).write_text(rel)
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "all")
    git(clone, "worktree", "add", "-q", "--no-checkout", str(root / "w"), "-b", "w", "main")
    return root / "w"


def _files(worktree: Path) -> list[str]:
    return sorted(p.relative_to(worktree).as_posix() for p in worktree.rglob("*")
                  if p.is_file() and ".git" not in p.relative_to(worktree).parts)


def test_git_checks_out_only_the_named_files(tmp_path: Path) -> None:
    worktree = _repo(tmp_path)
    assert sparse.narrow(worktree, [*ODD, "big/x.md"]) == (None, (*ODD, "big/x.md"))
    git(worktree, "checkout", "-q", "--force", "-B", "w", "main")
    assert _files(worktree) == sorted(ODD)  # literal names; the folder `x.md` left out
    assert git(worktree, "status", "--porcelain") == ""
    assert sparse.narrow(worktree, ["DASH.md"]) == ((*ODD, "big/x.md"), ("DASH.md",))
    git(worktree, "checkout", "-q", "--force", "-B", "w", "main")
    assert _files(worktree) == ["DASH.md"]
    assert sparse.holds(worktree, ["DASH.md"]) and not sparse.holds(worktree, ["other.bin"])


def test_a_line_break_is_not_read_back() -> None:
    assert sparse.paths(sparse.patterns(["a\nb.md"])) is None
    assert sparse.paths(sparse.patterns(["/x.md", "x.md", "y.md"])) == ("x.md", "y.md")
