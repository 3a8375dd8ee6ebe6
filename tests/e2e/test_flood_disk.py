"""Nothing a push brings fills the disk (issue 17): a ~200-byte untrusted push naming one
1 MiB blob at 2,000 paths is 2 GB in a full checkout. Taskbot's worktree of the tasks
repository holds only what a run reads or writes there (`bot.git.sparse`): the trusted task
pushed next runs and ticks, twice over (the second run takes the settled worktree's reset
in process), and the state dir stays small. Real daemon, real hook, real `git push`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.kit.daemon import TASKBOT, idle_and_empty, running_daemon
from tests.kit.exactly import task_text, wait_until
from tests.kit.git import Sandbox, git, sandbox

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"
PATHS = 2000
LIMIT = 50 * 1024 * 1024  # the state dir's size on disk, whatever the push brought


def _flood(box: Sandbox) -> None:
    """One commit adding PATHS paths that all name one 1 MiB blob: written with plumbing,
    so the test's own clone stays small (its index marks them skipped)."""
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=box.clone, check=True,
                          input=os.urandom(1 << 20), capture_output=True).stdout.decode().strip()
    lines = "".join(f"100644 {blob}\tflood/{i:04d}/big.bin\n" for i in range(PATHS))
    lines += f"100644 {blob}\ttasks/active/flood.md/big.bin\n"  # a folder named like a file
    subprocess.run(["git", "update-index", "--index-info"], cwd=box.clone, check=True,
                   input=lines.encode())
    git(box.clone, "commit", "-q", EVIL, "-m", "flood")
    subprocess.run("git ls-files -z flood tasks/active/flood.md | "
                   "xargs -0 git update-index --skip-worktree", shell=True, cwd=box.clone,
                   check=True)
    git(box.clone, "push", "-q", "origin", "HEAD:main")


def _push_task(box: Sandbox, task_id: str) -> None:
    box.write(f"tasks/active/{task_id}.md", task_text(task_id, [("Say ok", "true")]))
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
    box.commit_push(f"add {task_id}")


def _size(folder: Path) -> int:
    """Bytes on disk under `folder` (as `du` counts them), links not followed."""
    return sum(os.lstat(os.path.join(top, name)).st_blocks * 512
               for top, dirs, names in os.walk(folder) for name in (*dirs, *names))


def test_an_untrusted_flood_of_paths_is_not_checked_out(tmp_path: Path) -> None:
    box = sandbox(tmp_path, on_complete="move")
    text = box.config.read_text()
    box.config.write_text(text.replace("[repo]\n", '[repo]\ndashboard = "DASHBOARD.md"\n', 1))
    done = subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    state = tmp_path / "state"
    with running_daemon(box.config, tmp_path / "serve.log"):
        _flood(box)
        for task_id in ("TASK-1", "TASK-2"):
            _push_task(box, task_id)
            wait_until(lambda t=task_id: "- [x] Say ok" in _completed(box, t), timeout=120,
                       what=f"{task_id} ticked on main")
            wait_until(idle_and_empty(state), timeout=60, what="the daemon idle")
    assert "flood/0000/big.bin" in git(box.bare, "ls-tree", "-r", "--name-only", "main")
    assert "No active task." in box.main_file("DASHBOARD.md")  # both done, the listing read
    assert _size(state) < LIMIT, f"state dir: {_size(state) / 1e6:.1f} MB"
    held = [p for p in state.joinpath("worktrees").rglob("*") if p.is_file()
            and ".git" not in p.relative_to(state).parts and not p.name.endswith(".lock")]
    assert sorted(p.name for p in held) == ["DASHBOARD.md", "TASK-2.md"], held


def _completed(box: Sandbox, task_id: str) -> str:
    try:
        return box.main_file(f"tasks/completed/{task_id}.md")
    except (AssertionError, subprocess.CalledProcessError, RuntimeError):
        return ""
