"""Review of issue 17: one untrusted push of many small files misleads taskbot and grows its
state for good.

Each untrusted file that brings an open box gets its own refusal: a report stored under the
file's *stem* (not its path), an entry in status.json's `tasks` (never removed), and a
notification. So an untrusted pusher
- evicts every trusted task's stored reports (the store keeps the 1,000 most recently
  reported names): `taskbot report TASK-1` and the notes repair lose TASK-1's run;
- overwrites a trusted task's status and last report with a file of the same stem in
  another folder (`tasks/active/evil/TASK-1.md`);
- grows status.json by ~180 bytes per file name, for good; it is read, merged and
  rewritten on every status line (12,000 names: 170 ms a write; 60,000: 1.25 s).

Real daemon, real hook, real `git push`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.notify import reportstore
from tests.daemonkit import idle_and_empty, running_daemon, status_doc
from tests.exactlykit import installed, task_text, wait_until
from tests.gitfixtures import git

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"
SPAM = 1000


def test_an_untrusted_push_of_many_files_neither_evicts_nor_overwrites_trusted_reports(
        tmp_path: Path) -> None:
    box = installed(tmp_path)
    state = tmp_path / "state"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write("tasks/active/TASK-1.md", task_text("TASK-1", [("Say ok", "true")]))
        box.commit_push("add TASK-1")
        wait_until(lambda: "TASK-1" in str(status_doc(state).get("tasks")), timeout=30,
                   what="TASK-1 run")
        trusted_run = reportstore.last(state, "TASK-1").run_id
        git(box.clone, "pull", "-q", "--rebase", "origin", "main")

        for i in range(SPAM):
            box.write(f"tasks/active/spam/S{i:05d}.md", "## Acceptance Criteria\n- [ ] x\n")
        box.write("tasks/active/evil/TASK-1.md", "## Acceptance Criteria\n- [ ] x\n")
        _, new = box.commit_push("many files", EVIL)
        wait_until(lambda: json.loads((state / "tip.json").read_text())["sha"] == new,
                   timeout=300, what="the untrusted push processed")
        wait_until(idle_and_empty(state), timeout=60, what="the daemon idle")
        tasks: dict[str, Any] = dict(status_doc(state).get("tasks") or {})  # type: ignore[call-overload]
        log = daemon.stderr()
    assert "TASK-1 blocked" in log  # the refusal of evil/TASK-1.md, under TASK-1's name
    # Expected: TASK-1's own run is still what `taskbot report TASK-1` and status show.
    problems = []
    try:
        last = reportstore.last(state, "TASK-1").run_id
    except Exception as exc:
        problems.append(f"TASK-1's reports are gone: {exc}")
    else:
        if last != trusted_run:
            problems.append(f"TASK-1's last report is now {last}, not its run {trusted_run}")
    entry = tasks.get("TASK-1") or {}
    if entry.get("result") != "complete":
        problems.append(f"status says TASK-1: {entry}")
    if len(tasks) > 100:
        problems.append(f"status.json lists {len(tasks)} tasks after one untrusted push")
    assert not problems, "\n".join(problems)
