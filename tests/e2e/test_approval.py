"""Approval before risky changes (issue 19, item 5), end to end: a real bare repository with
the real hook, `taskbot serve` as a child, pushes from a person's clone, `taskbot approve`.

Project `demo` sets `approval = true`: its shell criterion is planned and waits. Nothing of
it runs until a trusted person's approval of the current plan arrives: not an untrusted
one, not one for a plan the task no longer has, not an expired one.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kit.daemon import TASKBOT, env_for, idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import installed, task_text
from tests.kit.git import Sandbox, git

pytestmark = pytest.mark.integration

REL = "tasks/active/TASK-1.md"


def _approval_box(tmp_path: Path) -> Sandbox:
    box = installed(tmp_path)
    text = box.config.read_text()
    text = text.replace('on_complete = "keep"\n', 'on_complete = "keep"\ndashboard = "DASHBOARD.md"\n')
    box.config.write_text(text.replace("allow_shell = true\n", "allow_shell = true\napproval = true\n"))
    return box


def _entry(state: Path) -> dict[str, Any]:
    tasks = status_doc(state).get("tasks")
    found = tasks.get("TASK-1") if isinstance(tasks, dict) else None
    return found if isinstance(found, dict) else {}


def _ran_again(state: Path, run_id: object) -> bool:
    return _entry(state).get("run_id") not in (None, run_id) and idle_and_empty(state)()


def _taskbot(box: Sandbox, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TASKBOT), "--config", str(box.config), *args], cwd=box.clone,
                          capture_output=True, text=True, env=env_for(None, **env), check=False)


def _pull(box: Sandbox) -> None:
    git(box.clone, "pull", "-q", "--ff-only", "origin", "main")


def test_nothing_runs_without_a_trusted_fresh_approval_of_the_current_plan(tmp_path: Path
                                                                           ) -> None:
    box = _approval_box(tmp_path)
    state = box.root / "state"
    count = tmp_path / "COUNT"
    box.write(REL, task_text("TASK-1", [("Restart demo", f"sh -c 'echo ran >> {count}'")]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("add TASK-1")
        until(daemon.notify, lambda: bool(_entry(state)) and idle_and_empty(state)())
        # 1. planned, and waiting: the command never ran
        assert not count.exists()
        entry = _entry(state)
        assert entry["result"] == "waiting"
        (waiting,) = entry["awaiting_approval"]
        digest = waiting["digest"]
        assert len(digest) == 16 and f"run: sh -c 'echo ran >> {count}'" in waiting["plan"][0]
        shown = _taskbot(box, "status").stdout
        assert f"waiting for approval: Restart demo (plan {digest}); approve with " \
               "`taskbot approve TASK-1`" in shown
        assert f"Waiting for approval: Restart demo (plan {digest}" in box.main_file(REL)
        assert f"waiting for approval of plan {digest} (taskbot approve TASK-1)" \
            in box.main_file("DASHBOARD.md")
        asked = _last_report(state)  # the notification's body: the plan, how to approve
        assert f"- ⏸ Restart demo: plan `{digest}`" in asked and "  - run: sh -c" in asked
        assert "Approve with `taskbot approve TASK-1 --push`" in asked
        planned = _taskbot(box, "plan", "TASK-1").stdout
        assert f"needs approval (digest {digest})" in planned

        # 2. an untrusted person's approval starts nothing, and is named
        _pull(box)
        eve = {"GIT_AUTHOR_EMAIL": "eve@example.com", "GIT_COMMITTER_EMAIL": "eve@example.com"}
        done = _taskbot(box, "approve", "TASK-1", "--push", **eve)
        assert done.returncode == 0, done.stderr
        assert f"plan {digest}" in done.stdout
        eves = git(box.bare, "rev-parse", "main")
        until(daemon.notify, lambda: _refusal_names(state, eves[:12]) and idle_and_empty(state)())
        assert not count.exists()
        refusal = _refusal_names(state, eves[:12])
        assert "eve@example.com" in refusal and "counts for nothing" in refusal

        # 3. an approval of a plan the task no longer has (edited after approving) is void
        before = _entry(state)["run_id"]
        assert _taskbot(box, "approve", "TASK-1").returncode == 0  # approved, not pushed yet
        box.write(REL, box.main_file(REL).replace("echo ran", "echo edited"))
        box.commit_push("edit TASK-1 after approving it")
        until(daemon.notify, lambda: _ran_again(state, before))
        assert not count.exists()
        (waiting,) = _entry(state)["awaiting_approval"]
        stale, digest = digest, waiting["digest"]
        assert stale != digest
        last = _last_report(state)
        assert f"is for plan {stale}, the plan is now {digest}: it is void" in last
        assert "eve@example.com" in last and "counts for nothing" in last

        # 4. an expired approval (its commit two days old) is void
        _pull(box)
        before = _entry(state)["run_id"]
        two_days_ago = f"@{int(time.time()) - 2 * 86400} +0000"
        old = {"GIT_COMMITTER_DATE": two_days_ago, "GIT_AUTHOR_DATE": two_days_ago}
        assert _taskbot(box, "approve", "TASK-1", "--push", **old).returncode == 0
        until(daemon.notify, lambda: _ran_again(state, before))
        assert not count.exists()
        assert f"for plan {digest} expired: older than 24h" in _last_report(state)

        # 5. a trusted person's approval of the current plan runs it, once
        done = _taskbot(box, "approve", "TASK-1", "--push")
        assert done.returncode == 0, done.stderr
        until(daemon.notify, lambda: count.exists() and idle_and_empty(state)())
        until(daemon.notify, lambda: _entry(state).get("result") == "complete"
              and idle_and_empty(state)())
    assert count.read_text().splitlines() == ["edited"]  # the plan approved, once
    assert "- [x] Restart demo" in box.main_file(REL)
    assert "awaiting_approval" not in _entry(state)


def _refusal_names(state: Path, sha: str) -> str:
    """The refusal report that names commit `sha`, or ''."""
    folder = state / "reports"  # refusals are kept apart from tasks' (an escaped folder name)
    for path in sorted(folder.rglob("*-refused.md")) if folder.is_dir() else ():
        text = path.read_text()
        if sha in text:
            return text
    return ""


def _last_report(state: Path) -> str:
    folder = state / "reports" / "TASK-1"
    return max(folder.glob("*.md"), key=lambda p: p.stat().st_mtime_ns).read_text()
