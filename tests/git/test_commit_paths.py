"""A run's commit made in process (`bot.git.commitpaths`) records what `git commit` would,
and a settled worktree's reset (`bot.git.worktree.settle`) leaves what a full reset would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.config import Identity
from bot.git import write as gitrepo
from bot.git.commitpaths import DECLINED
from bot.git.commitpaths import commit_paths as commit_in
from bot.git.read import open_repo
from bot.git.reset import reset_in_process
from tests.kit.git import clean_git

WHO = Identity("taskbot", "taskbot@build-host")


def _git(cwd: Path, *args: str) -> str:
    return clean_git(cwd, *args, strip=False)


def _repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "seed")
    return root


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path]:
    files = {"tasks/active/A.md": "- [ ] a\n", "tasks/completed/Z.md": "z\n", "README.md": "r\n"}
    return _repo(tmp_path / "one", files), _repo(tmp_path / "two", files)


def _edit(repo: Path) -> None:
    (repo / "tasks/active/A.md").write_text("- [x] a\n")
    (repo / "tasks/completed").mkdir(exist_ok=True)
    os.rename(repo / "tasks/active/A.md", repo / "tasks/completed/A.md")
    (repo / "DASHBOARD.md").write_text("| A |\n")


PATHS = ["tasks/active/A.md", "tasks/completed/A.md", "DASHBOARD.md"]
MESSAGE = "taskbot(A): complete, 1/1 criteria done\n\n- [x] a   \n\nTask-Id: A\n"


def _recorded(repo: Path) -> list[str]:
    """HEAD as git stores it, but for its parent and the times (the twins differ there)."""
    raw = _git(repo, "cat-file", "-p", "HEAD").splitlines()
    return [line.rsplit(" ", 2)[0] if line.startswith(("author ", "committer ")) else line
            for line in raw if not line.startswith("parent ")]


def test_the_commit_is_the_one_git_makes(twins: tuple[Path, Path]) -> None:
    mine, theirs = twins
    _edit(mine)
    _edit(theirs)
    sha = _commit_paths(mine, MESSAGE, WHO.name, WHO.email, PATHS)
    assert sha not in (None, DECLINED)
    assert sha == _git(mine, "rev-parse", "HEAD").strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(gitrepo.identity_env(WHO))
    subprocess.run(["git", "add", "--all", "--", *PATHS], cwd=theirs, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-F", "-"], cwd=theirs, env=env, check=True,
                   input=MESSAGE.encode())
    assert _recorded(mine) == _recorded(theirs)
    assert _recorded(mine)[-3:] == ["- [x] a", "", "Task-Id: A"]  # trailing blanks dropped
    assert _git(mine, "status", "--porcelain") == ""  # the index follows the commit


def test_declines_where_git_could_write_other_bytes(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"tasks/active/A.md": "a\n", ".gitattributes": "*.md text\n"})
    (repo / "tasks/active/A.md").write_text("b\n")
    assert _commit_paths(repo, "s\n", WHO.name, WHO.email, ["tasks/active/A.md"]) == DECLINED
    # git commits it then: the same call through bot.git.write
    sha = gitrepo.commit(repo, "s\n", WHO, ["tasks/active/A.md"])
    assert sha is not None and _git(repo, "show", "HEAD:tasks/active/A.md") == "b\n"


@pytest.mark.parametrize("message", ["# a comment line\n\nx\n", "\nleading blank\n",
                                     "s\n\n\n\nbody\n"])
def test_declines_a_message_git_would_clean_up_more(tmp_path: Path, message: str) -> None:
    repo = _repo(tmp_path / "r", {"a.md": "a\n"})
    (repo / "a.md").write_text("b\n")
    assert _commit_paths(repo, message, WHO.name, WHO.email, ["a.md"]) == DECLINED


def test_nothing_changed_is_no_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"a.md": "a\n"})
    head = _git(repo, "rev-parse", "HEAD")
    assert _commit_paths(repo, "s\n", WHO.name, WHO.email, ["a.md", "gone.md"]) is None
    assert _git(repo, "rev-parse", "HEAD") == head


def test_a_settled_reset_leaves_what_a_full_one_does(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"a/x.md": "x\n", "a/y.md": "y\n", "keep.md": "k\n"})
    one = _git(repo, "rev-parse", "HEAD").strip()
    _git(repo, "rm", "-q", "a/x.md")
    (repo / "b").mkdir()
    (repo / "b/[z]*.md").write_text("z\n")  # taken literally, not as a pattern
    (repo / "a/y.md").write_text("y2\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    two = _git(repo, "rev-parse", "HEAD").strip()
    _git(repo, "checkout", "-q", "--detach", one)
    for target, files in ((two, ["a/y.md", "b/[z]*.md", "keep.md"]),
                          (one, ["a/x.md", "a/y.md", "keep.md"])):
        assert reset_in_process(repo, "taskbot/T", target, None, settled=True)
        assert _git(repo, "rev-parse", "HEAD").strip() == target
        assert _git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/taskbot/T"
        assert _git(repo, "status", "--porcelain", "--ignored") == ""
        assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*.md")) == files
    assert (repo / "a/y.md").read_text() == "y\n"


def _commit_paths(repo: Path, message: str, name: str, email: str, paths: list[str]) -> str | None:
    return commit_in(open_repo(repo), repo, message, name, email, paths)


def test_declines_under_a_folders_own_attributes(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"tasks/active/A.md": "a\n",
                                  "tasks/.gitattributes": "*.md text eol=crlf\n"})
    (repo / "tasks/active/A.md").write_text("b\n")
    assert _commit_paths(repo, "s\n", WHO.name, WHO.email, ["tasks/active/A.md"]) == DECLINED
    sha = gitrepo.commit(repo, "s\n", WHO, ["tasks/active/A.md"])
    assert sha is not None and _git(repo, "show", "HEAD:tasks/active/A.md") == "b\n"


def test_a_settled_reset_leaves_links_to_a_full_reset(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", {"a.md": "a\n"})
    one = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "link").symlink_to("/etc")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a link")
    two = _git(repo, "rev-parse", "HEAD").strip()
    _git(repo, "checkout", "-q", "--detach", one)
    assert not reset_in_process(repo, "taskbot/T", two, None, settled=True)
    assert not os.path.lexists(repo / "link")  # nothing written: the caller resets whole
    assert _git(repo, "rev-parse", "HEAD").strip() == one
