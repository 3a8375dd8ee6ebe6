"""Before a handler runs in a project: its branch, no uncommitted tracked changes
(unless allow_dirty), evidence of what was checked — with real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot import config as configmod
from bot.api import Context, NotReady, Status, project_ready
from bot.errors import ConfigError
from handlers.build import HANDLER as BUILD
from handlers.shell import HANDLER as SHELL
from tests.kit.context import make_ctx


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def _repo(root: Path) -> Path:
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "build.sh").write_text("#!/bin/sh\necho built > built\n")
    (root / "build.sh").chmod(0o755)
    _git(root, "add", ".")
    _git(root, "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-q", "-m", "init")
    return root


def _ctx(tmp_path: Path, path: Path, **extra: Any) -> Context:
    return make_ctx({"projects": {"app": {"path": str(path), "build": ["./build.sh"],
                                          "allow_shell": True, **extra}}}, tmp_path)


def _build(ctx: Context) -> Any:
    return BUILD.run(BUILD.settings({"project": "app", "version": "1.0", "push": "false"}, ctx),
                     ctx)


def test_clean_project_on_its_branch_runs_and_says_what_was_checked(tmp_path: Path) -> None:
    root = _repo(tmp_path / "app")
    outcome = _build(_ctx(tmp_path, root))
    assert outcome.status is Status.DONE
    assert "project app: on main, clean" in outcome.evidence
    assert (root / "built").exists()


def test_other_branch_blocks_with_the_reason(tmp_path: Path) -> None:
    root = _repo(tmp_path / "app")
    _git(root, "checkout", "-q", "-b", "feature-x")
    outcome = _build(_ctx(tmp_path, root, branch="main"))
    assert outcome.status is Status.BLOCKED
    assert outcome.reason.startswith("project app is on feature-x, not on its branch main")
    assert outcome.evidence == ("project app: on feature-x",)
    assert not (root / "built").exists()


def test_uncommitted_dockerfile_blocks_unless_allow_dirty(tmp_path: Path) -> None:
    root = _repo(tmp_path / "app")
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / "notes.txt").write_text("untracked files do not count\n")
    outcome = _build(_ctx(tmp_path, root))
    assert outcome.status is Status.BLOCKED
    assert outcome.reason == ("project app has uncommitted changes to tracked files: "
                              "Dockerfile (commit them, or set allow_dirty = true)")
    assert not (root / "built").exists()
    outcome = _build(_ctx(tmp_path, root, allow_dirty=True))
    assert outcome.status is Status.DONE
    assert ("project app: on main, uncommitted changes allowed (allow_dirty): Dockerfile"
            in outcome.evidence)


def test_shell_runs_in_a_plain_directory_but_not_on_a_wrong_branch(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    ctx = _ctx(tmp_path, plain)
    outcome = SHELL.run(SHELL.settings({"project": "app", "cmd": "true"}, ctx), ctx)
    assert outcome.status is Status.DONE
    assert outcome.evidence == (f"project app: {plain} is not a git repository: branch and "
                                "changes not checked",)
    root = _repo(tmp_path / "app")
    _git(root, "checkout", "-q", "-b", "feature-x")
    ctx = _ctx(tmp_path, root, branch="main")
    outcome = SHELL.run(SHELL.settings({"project": "app", "cmd": "touch ran"}, ctx), ctx)
    assert outcome.status is Status.BLOCKED and not (root / "ran").exists()


def test_build_still_refuses_a_directory_that_is_no_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotReady, match="is not a git repository"):
        project_ready(_ctx(tmp_path, plain).config.projects["app"])


def test_branch_defaults_to_the_remotes_default_branch(tmp_path: Path) -> None:
    origin = _repo(tmp_path / "origin")
    _git(origin, "branch", "-q", "-m", "trunk")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert _ctx(tmp_path, clone).config.projects["app"].branch == "trunk"
    master = tmp_path / "m"
    master.mkdir()
    _git(master, "init", "-q", "-b", "master")
    _git(master, "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-q", "--allow-empty",
         "-m", "x")
    assert _ctx(tmp_path, master).config.projects["app"].branch == "master"
    assert _ctx(tmp_path, tmp_path / "none").config.projects["app"].branch == "main"
    assert _ctx(tmp_path, master, branch="dev").config.projects["app"].branch == "dev"


def test_a_found_branch_stays_when_a_fetch_adds_the_refs_it_was_read_from(tmp_path: Path) -> None:
    """A clone made without `git clone` (no origin/HEAD) on master: the forge gains a main
    and a handler fetches in mid-run; the project's branch is still the one first found."""
    origin = _repo(tmp_path / "origin")
    _git(origin, "branch", "-q", "-m", "master")
    clone = tmp_path / "gitops"
    clone.mkdir()
    _git(clone, "init", "-q", "-b", "master")
    _git(clone, "remote", "add", "origin", str(origin))
    _git(clone, "fetch", "-q", "origin", "master")
    _git(clone, "reset", "-q", "--hard", "origin/master")
    project = _ctx(tmp_path, clone).config.projects["app"]
    assert project.branch == "master"
    _git(origin, "branch", "-q", "main")
    _git(clone, "fetch", "-q", "origin")
    assert configmod.Project("app", str(clone)).branch == "main"  # what a fresh look finds
    assert project.branch == "master"
    assert project_ready(project)[0] == "project app: on master, clean"


def test_allow_dirty_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allow_dirty"):
        configmod.parse({"projects": {"app": {"path": str(tmp_path), "allow_dirty": "yes"}}},
                        str(tmp_path / "taskbot.toml"))
