"""Shared setup for the exactly-once tests: an installed sandbox, task files, bounded waits."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.kit.daemon import TASKBOT
from tests.kit.git import Sandbox, git, sandbox

__all__ = ["alive", "await_path", "bare_branches", "installed", "reports", "task_text",
           "wait_until"]


def installed(tmp_path: Path, *, notify_url: str | None = None) -> Sandbox:
    """A sandbox whose bare repo has the real post-receive hook (`taskbot init`)."""
    box = sandbox(tmp_path)
    if notify_url is not None:
        with box.config.open("a") as fh:
            fh.write(f'\n[notify]\nurls = ["{notify_url}"]\n')
    done = subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return box


def task_text(task_id: str, criteria: Sequence[tuple[str, str]],
              deps: Sequence[str] = ()) -> str:
    """A task file; each criterion is (text, shell command run in project `demo`)."""
    lines = [f"- [ ] {text} <!-- taskbot: shell project=demo cmd=\"{cmd}\" -->"
             for text, cmd in criteria]
    dep_block = "".join(f"- {d}\n" for d in deps)
    deps_part = f"\n## Dependencies\n{dep_block}" if deps else ""
    return (f"---\nid: {task_id}\ntitle: {task_id} title\n---\n# {task_id}\n{deps_part}\n"
            "## Acceptance Criteria\n" + "\n".join(lines) + "\n")


def wait_until(condition: Callable[[], bool], timeout: float = 10, what: str = "condition"
               ) -> None:
    """A bounded poll for something no event announces (a file another process writes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(0.02)


def await_path(path: Path, timeout: float = 10) -> None:
    wait_until(path.exists, timeout, f"{path} to appear")


def alive(pid: int) -> bool:
    """Running, i.e. neither gone nor a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def bare_branches(box: Sandbox, pattern: str = "taskbot/*") -> list[str]:
    out = git(box.bare, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{pattern}")
    return out.splitlines()


def reports(state: Path, task_id: str) -> list[Path]:
    folder = state / "reports" / task_id
    return sorted(folder.glob("*.md")) if folder.is_dir() else []
