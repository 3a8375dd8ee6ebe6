"""The daemon sends the progress notification too (issue 21): a run past
`limits.run_soft_limit` → exactly one, at a real apprise receiver, naming every criterion in
flight; its two project groups run side by side, and status.json lists both while they
run. Real daemon, real hook, real `git push`."""

from __future__ import annotations

import json
import signal
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


# Each criterion notes its start, then waits for `go` (the second run finds it and ends).
WAIT = "sh -c 'echo {name} >> {d}/ran; test -e {d}/go && exit 0; sleep 30'"
GROUPS = """\
---
id: TASK-022
title: Three groups killed
---
# TASK-022

## Acceptance Criteria
### A
- [ ] Quick a <!-- taskbot: shell project=demo cmd="sh -c 'echo quick >> {d}/ran'" -->
- [ ] Wait a <!-- taskbot: shell project=demo cmd="{a}" -->
### B
- [ ] Wait b <!-- taskbot: shell project=other cmd="{b}" -->
### C
- [ ] Wait c <!-- taskbot: shell project=third cmd="{c}" -->
"""


def _in_flight(state: Path) -> int:
    try:
        doc = json.loads((state / "journal.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(len(t.get("flight") or ()) for t in doc.get("tasks", {}).values())


def _ran(marks: Path) -> list[str]:
    try:
        return (marks / "ran").read_text().split()
    except FileNotFoundError:
        return []


def test_a_kill_with_three_groups_in_flight_resumes_each(tmp_path: Path) -> None:
    box = installed(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    extra = ""
    for name in ("other", "third"):
        (box.root / name).mkdir()
        extra += f'\n[projects.{name}]\npath = "{box.root / name}"\nallow_shell = true\n'
    box.config.write_text(box.config.read_text() + extra)
    state = box.root / "state"
    rel = "tasks/active/TASK-022.md"
    box.write(rel, GROUPS.format(d=marks, **{n: WAIT.format(name=n, d=marks) for n in "abc"}))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("add TASK-022")
        wait_until(lambda: _in_flight(state) == 3 and set(_ran(marks)) == {"quick", *"abc"},
                   10, "three criteria in flight, their commands running")
        daemon.proc.kill()
        daemon.proc.wait(10)
    (marks / "go").touch()
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        until(daemon.notify, idle_and_empty(state))
    ran = _ran(marks)
    assert sorted(ran) == ["a", "a", "b", "b", "c", "c", "quick"]  # each once more, quick once
    final = box.main_file(rel)
    for name in "abc":
        assert f"Done: Wait {name} (" in final and f"- [x] Wait {name}" in final
    assert final.count("(interrupted, run again)") == 3
    assert "- [x] Quick a" in final
    log = [line.split("Done: ", 1)[1].split(" (")[0] for line in final.splitlines()
           if "Done: " in line]
    assert log == ["Quick a", "Wait a", "Wait b", "Wait c"]  # criterion order


STOPPED = """\
---
id: TASK-023
title: Stopped with two groups in flight
---
# TASK-023

## Acceptance Criteria
### A
- [ ] Slow a <!-- taskbot: shell project=demo cmd="sh -c 'touch {d}/a; sleep 1; touch {d}/a-done'" -->
- [ ] Then a <!-- taskbot: shell project=demo cmd="touch {d}/a-then" -->
### B
- [ ] Slow b <!-- taskbot: shell project=other cmd="sh -c 'touch {d}/b; sleep 1; touch {d}/b-done'" -->
- [ ] Then b <!-- taskbot: shell project=other cmd="touch {d}/b-then" -->
"""


def test_sigterm_with_two_groups_in_flight_finishes_both_and_starts_nothing(
        tmp_path: Path) -> None:
    box = installed(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    (box.root / "other").mkdir()
    box.config.write_text(box.config.read_text() + f'\n[projects.other]\npath = '
                          f'"{box.root / "other"}"\nallow_shell = true\n')
    rel = "tasks/active/TASK-023.md"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write(rel, STOPPED.format(d=marks))
        box.commit_push("add TASK-023")
        wait_until(lambda: (marks / "a").exists() and (marks / "b").exists(), 10,
                   "both slow criteria started")
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.terminate() == 0
    assert (marks / "a-done").exists() and (marks / "b-done").exists()  # both ran to the end
    assert not (marks / "a-then").exists() and not (marks / "b-then").exists()
    text = box.main_file(rel)
    assert "- [x] Slow a" in text and "- [x] Slow b" in text
    assert "- [ ] Then a" in text and "- [ ] Then b" in text
