"""The daemon sends the progress notification too (issue 21): a run past
`limits.run_soft_limit` → exactly one, at a real apprise receiver, naming every criterion in
flight; its two project groups run side by side, and status.json lists both while they
run. Real daemon, real hook, real `git push`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import installed, wait_until
from tests.kit.receivers import HttpReceiver

pytestmark = pytest.mark.integration

TASK = """\
---
id: TASK-021
title: Two builds
---
# TASK-021

## Acceptance Criteria
### Alpha
- [ ] Build alpha <!-- taskbot: shell project=demo cmd="sleep 3" -->
### Beta
- [ ] Build beta <!-- taskbot: shell project=other cmd="sleep 3" -->
"""


def _criteria_in_flight(state: Path) -> list[Any]:
    flight = status_doc(state).get("in_flight")
    found = flight.get("criteria") if isinstance(flight, dict) else None
    return found if isinstance(found, list) else []


def test_a_run_past_the_soft_limit_sends_one_progress_notification(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        (box.root / "other").mkdir()
        text = box.config.read_text().replace(
            'command_timeout = "20s"\n', 'command_timeout = "20s"\nrun_soft_limit = "1s"\n')
        box.config.write_text(text + f'\n[projects.other]\npath = "{box.root / "other"}"\n'
                              "allow_shell = true\n")
        state = box.root / "state"
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            box.write("tasks/active/TASK-021.md", TASK)
            box.commit_push("add TASK-021")
            wait_until(lambda: len(_criteria_in_flight(state)) == 2, 10,
                       "both groups in status.json")
            texts = {c["criterion"] for c in _criteria_in_flight(state)}
            progress, final = receiver.wait_for(2)
            until(daemon.notify, idle_and_empty(state))
    assert texts == {"Build alpha", "Build beta"}
    assert progress.doc["type"] == "info"
    assert progress.title.startswith("TASK-021 still running after ")
    assert progress.title.endswith(": 0 done, 2 in flight, 0 left")
    assert "- ⏳ Build alpha (attempt 1, for " in progress.message
    assert "- ⏳ Build beta (attempt 1, for " in progress.message
    assert final.title == "TASK-021 complete: 2/2 criteria done"
    assert [p.doc["type"] for p in receiver.posts].count("info") == 1
    assert len(receiver.posts) == 2
    main = box.main_file("tasks/active/TASK-021.md")
    assert "- [x] Build alpha" in main and "- [x] Build beta" in main
