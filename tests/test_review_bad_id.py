"""Review of issue 17: a trusted task whose id is no valid branch name (`a b`, `../x`,
`x.lock`, `a~1`, `@{-1}`, a trailing `/`) is not run, and nobody is told: no report, no
notification, no entry in `taskbot status`; only a WARNING line in the daemon's log
(`git worktree add ... -B taskbot/a b`: fatal: not a valid branch name). Ids `-f` and `HEAD`
run fine. Expected: the file refused with the reason, as a report and notification say.

Real daemon, real hook, real `git push`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemonkit import idle_and_empty, running_daemon, status_doc
from tests.exactlykit import installed, wait_until
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.integration


def test_a_trusted_task_whose_id_is_no_branch_name_is_reported(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        state = tmp_path / "state"
        box.write("tasks/active/T0.md", '---\nid: "a b"\ntitle: t\n---\n## Acceptance Criteria\n'
                  '- [ ] Do <!-- taskbot: shell project=demo cmd="touch done" -->\n')
        with running_daemon(box.config, tmp_path / "serve.log"):
            box.commit_push("a task", "--author", "Becker <becker@example.com>")
            time.sleep(1)
            wait_until(idle_and_empty(state), timeout=60, what="idle")
            wait_until(lambda: not any((state / "outbox").glob("*.json")), timeout=30,
                       what="the outbox delivered")
        tasks: dict[str, Any] = dict(status_doc(state).get("tasks") or {})  # type: ignore[call-overload]
        said = [p.title + p.message for p in receiver.posts]
    assert not (tmp_path / "demo" / "done").exists()
    # Expected: somebody is told the task was not run, and why.
    assert "a b" in tasks or "T0" in tasks, f"status: {sorted(tasks)}"
    assert any("branch" in s for s in said), said
