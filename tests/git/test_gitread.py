"""bot.git.read: the one mode decision, resolving, one walk per range; trailers read back;
taskbot's own commits ignore the operator's global git config; the one atomic writer."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from bot.atomic import write_atomic
from bot.config import Identity
from bot.daemon import spool, statusfile
from bot.git import read
from bot.git import write as gitrepo
from bot.git.messages import parse_trailers
from bot.state import statedir

pytestmark = pytest.mark.integration


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def _repos(root: Path) -> tuple[Path, Path]:
    """A bare repository with one commit on main (tasks/a.md), and a clone of it."""
    bare, clone = root / "tasks.git", root / "clone"
    _git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(root, "clone", "-q", str(bare), str(clone))
    (clone / "tasks").mkdir()
    (clone / "tasks" / "a.md").write_text("a\n")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "first")
    _git(clone, "push", "-q", "origin", "HEAD:main")
    return bare, clone


def test_mode_is_decided_once_for_every_kind_of_path(tmp_path: Path) -> None:
    bare, clone = _repos(tmp_path)
    _git(bare, "worktree", "add", "-q", str(tmp_path / "wt-bare"), "main")
    _git(clone, "worktree", "add", "-q", str(tmp_path / "wt-clone"), "HEAD")
    assert read.mode(bare) == "bare"
    assert read.mode(clone) == "clone"
    assert read.mode(tmp_path / "wt-bare") == "bare"  # a worktree has its repository's mode
    assert read.mode(tmp_path / "wt-clone") == "clone"
    for not_a_repo in (tmp_path, clone / "tasks"):  # never a parent's repository
        with pytest.raises(read.GitError, match="not a git repository"):
            read.mode(not_a_repo)


def test_resolve_exists_and_git_dir(tmp_path: Path) -> None:
    bare, clone = _repos(tmp_path)
    tip = _git(bare, "rev-parse", "main")
    assert read.resolve(bare, "main") == tip
    assert read.resolve(clone, "origin/main") == tip
    assert read.resolve(clone / ".git", "refs/heads/main") == tip
    assert read.resolve(bare, "nope") is None
    assert read.exists(bare, "refs/heads/main:tasks")
    assert not read.exists(bare, "refs/heads/main:elsewhere")
    assert read.git_dir(clone) == (clone / ".git").absolute()
    assert read.hooks_dir(bare) == (bare / "hooks").resolve()


def test_one_walk_answers_each_scope(tmp_path: Path) -> None:
    bare, clone = _repos(tmp_path)
    old = _git(bare, "rev-parse", "main")
    (clone / "README").write_text("x\n")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "outside")
    (clone / "tasks" / "a.md").write_text("b\n")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "inside")
    new = _git(clone, "rev-parse", "HEAD")
    pushed = read.walk(read.open_repo(clone), old, new, ("tasks", "tasks/a.md", ""))
    assert [c.sha for c in pushed.commits] == [new, _git(clone, "rev-parse", "HEAD~1")]
    assert [c.sha for c in pushed.touching("tasks")] == [new]
    assert [c.sha for c in pushed.touching("")] == [c.sha for c in pushed.commits]
    assert pushed.commits[0].author_email == "becker@example.com"
    assert pushed.commits[0].parents == (pushed.commits[1].sha,)
    with pytest.raises(ValueError):
        pushed.touching("other")
    everything = read.walk(clone, read.ZERO, new, ("tasks/a.md",))
    assert len(everything.commits) == 3 and everything.old is None
    assert [c.message.strip() for c in everything.touching("tasks/a.md")] == ["inside", "first"]


@pytest.mark.parametrize(("message", "expected"), [
    ("subject\n\nbody\n\nTask-Id: T-1\nTaskbot-Run: r1\n", {"Task-Id": "T-1", "Taskbot-Run": "r1"}),
    ("subject\n\nTaskbot-Run: r1\n\n\n", {"Taskbot-Run": "r1"}),
    ("Taskbot-Run: r1\n", {}),  # the subject is never a trailer
    ("subject\n\nsome text\nTaskbot-Run: r1\n", {}),  # not every line is a trailer
    ("subject\n\nTaskbot-Run: r1\n\nlast words\n", {}),  # trailers come last
    ("subject\n\nA: 1\nA: 2\n", {"A": "2"}),
])
def test_parse_trailers(message: str, expected: dict[str, str]) -> None:
    assert parse_trailers(message) == expected


def test_parse_trailers_agrees_with_git(tmp_path: Path) -> None:
    message = "subject\n\nbody line\n\nTask-Id: T-1\nTaskbot-Run: r1\n"
    done = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, text=True,
                          capture_output=True, check=True)
    assert parse_trailers(message) == dict(
        line.split(": ", 1) for line in done.stdout.splitlines())


def test_taskbot_commits_ignore_the_operators_global_config(tmp_path: Path) -> None:
    _, clone = _repos(tmp_path)
    hooks = tmp_path / "global-hooks"
    hooks.mkdir()
    (hooks / "prepare-commit-msg").write_text("#!/bin/sh\necho 'Signed-off-by: global hook' >>\"$1\"\n")
    (hooks / "prepare-commit-msg").chmod(0o755)
    _git(clone, "config", "--global", "core.hooksPath", str(hooks))
    _git(clone, "config", "--global", "commit.gpgSign", "true")
    (clone / "tasks" / "a.md").write_text("c\n")
    sha = gitrepo.commit(clone, "taskbot(T): x\n\nTaskbot-Run: r\n", Identity())
    assert sha is not None
    assert _git(clone, "log", "-1", "--format=%B", sha) == "taskbot(T): x\n\nTaskbot-Run: r"
    env = gitrepo.identity_env(Identity())
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull and env["GIT_CONFIG_NOSYSTEM"] == "1"


def test_write_atomic_mode_and_tmp_dir(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    target = tmp_path / "file"
    write_atomic(target, b"one", 0o755, tmp_dir=tmp_path / "tmp")
    assert target.read_bytes() == b"one" and stat.S_IMODE(target.stat().st_mode) == 0o755
    assert os.listdir(tmp_path / "tmp") == [] and sorted(os.listdir(tmp_path)) == ["file", "tmp"]


def test_status_and_spool_rewrites_leave_no_stray_names(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    statusfile.write(state, {"version": 1})
    assert statusfile.read(state) == {"version": 1}
    assert stat.S_IMODE((state / statedir.STATUS).stat().st_mode) == 0o644
    entry = spool.pending(state)[0] if spool.enqueue(state, ["rerun A", "rerun B"]) else None
    assert entry is not None
    spool.rest(entry, entry.lines[1:])
    assert [e.lines for e in spool.pending(state)] == [("rerun B",)]
    qdir = spool.queue_dir(state)
    assert [n for n in os.listdir(qdir) if n.startswith(".")] == []
    assert os.listdir(qdir / "tmp") == []


def test_a_repository_taskbot_may_not_use_says_why(tmp_path: Path) -> None:
    import os

    import pytest

    from bot.git.read import GitError, open_repo

    bare = tmp_path / "b.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for path in [bare, *bare.rglob("*")]:
        os.chown(path, 65534, 65534)  # another user's repository (tests run as root)
    with pytest.raises(GitError) as caught:
        open_repo(bare)
    assert "not owned by current user" in str(caught.value)
    with pytest.raises(GitError, match="not a git repository"):
        open_repo(tmp_path)
