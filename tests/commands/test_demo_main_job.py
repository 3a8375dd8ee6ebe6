"""`taskbot demo` with the main job: buildah build and push to a local TLS registry, the
HelmRelease bump in a sandbox GitOps repo, kustomize; `--keep` keeps the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.kit.daemon import TASKBOT

TOOLS = ("buildah", "docker-registry", "kubectl", "htpasswd", "openssl")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason="needs buildah docker-registry kubectl (.ci/run installs them)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="buildah's vfs storage needs root here"),
]


def _demo(*args: str) -> str:
    done = subprocess.run([str(TASKBOT), "demo", *args], capture_output=True, text=True,
                          timeout=90, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "internal error" not in done.stderr
    return done.stdout


def test_demo_runs_the_main_job_and_shows_the_helmrelease_diff() -> None:
    out = _demo()
    main = out.split("== the main job: registry https://127.0.0.1:", 1)[1]
    commit = main.split("== taskbot's commit (TASK-002)\n", 1)[1].split("\n== ", 1)[0]
    assert commit.startswith("taskbot(TASK-002): complete, 3/3 criteria done")
    assert "Task-Id: TASK-002" in commit and "Taskbot-Run: " in commit
    assert "- [x] Build all DEMO containers with version 0.1.1" in commit
    assert "TASK-002 complete: 3/3 criteria done" in main
    diff = main.split("== HelmRelease change in the GitOps repo", 1)[1].split("\n== ", 1)[0]
    assert "-      tag: 0.1.0" in diff and "+      tag: 0.1.1" in diff
    assert "== kubectl kustomize clusters/sandbox (exit 0)" in main
    sandbox = out.split("== sandbox ", 1)[1].split(":", 1)[0]
    assert not Path(sandbox).exists()


def test_demo_keep_leaves_the_sandbox_and_says_where() -> None:
    out = _demo("--keep")
    sandbox = Path(out.split("== sandbox ", 1)[1].split(":", 1)[0])
    try:
        assert f"== the sandbox is kept: {sandbox}" in out
        assert f"git -C {sandbox}/tasks.git notes --ref=taskbot show main" in out
        assert f"taskbot --config {sandbox}/taskbot.toml status" in out
        assert (sandbox / "gitops.git").is_dir() and (sandbox / "taskbot.toml").is_file()
        log = subprocess.run(["git", "-C", str(sandbox / "tasks.git"), "log", "--format=%s",
                              "main"], capture_output=True, text=True, check=True).stdout
        assert "taskbot(TASK-002): complete, 3/3 criteria done" in log
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
