"""What people see of groups side by side (issue 21): the live line names every criterion in
flight, `status` lists them with the run's progress, the progress message lists them, the
dashboard row of the run committed gives each group's wall time."""

from __future__ import annotations

import io
from datetime import datetime

from bot import dashboard
from bot.api import Outcome, Status
from bot.commands import status as status_command
from bot.commands.live import LiveLine
from bot.notify.progress import ProgressWatch
from bot.run.actions import Action
from bot.run.report import Report, TaskInfo
from bot.run.runmodel import CriterionState as State
from bot.run.runmodel import GroupTime, Result, TaskResult
from bot.taskfile import parse

TASK = b"""\
# TASK-021
## Acceptance Criteria
### FFL
- [ ] Build ffl
### Triager
- [ ] Build triager
### Post-Build Verification
- [ ] Verify all
"""


def _actions() -> list[Action]:
    return [Action(c, "shell", "annotation") for c in parse(TASK, "TASK-021.md").criteria]


def test_the_live_line_names_every_criterion_in_flight() -> None:
    ffl, triager, _ = _actions()
    line = LiveLine(io.StringIO())
    watch = line.observer()
    watch.on_start("TASK-021", ffl, 1)
    assert line.text() == "▶ Build ffl — 0s"  # one in flight: as before groups
    watch.on_start("TASK-021", triager, 2)
    watch.on_command(("buildah", "bud"))
    assert line.text() == ("▶ 2 in flight: Build ffl — 0s · Build triager (attempt 2) — 0s"
                           " │ $ buildah bud")
    watch.on_end("TASK-021", Result(ffl, State.DONE, Outcome(Status.DONE), 1), 1.0)
    assert line.text() == "▶ Build triager (attempt 2) — 0s"


def test_status_lists_every_criterion_in_flight() -> None:
    since = datetime.now().astimezone().isoformat(timespec="seconds")
    flight = {"item": "a b c", "since": since, "task": "TASK-021", "criterion": "Build ffl",
              "command": "make", "criterion_since": since,
              "criteria": [{"task": "TASK-021", "criterion": "Build ffl", "command": "make",
                            "since": since},
                           {"task": "TASK-021", "criterion": "Build triager", "command": "",
                            "since": since}],
              "progress": {"done": 1, "in_flight": 2, "left": 1}}
    snap = {"daemon": {"running": True, "pid": 1, "mode": "hook", "status": "busy"},
            "state_dir": "/s", "in_flight": flight, "queue": [], "queue_length": 0,
            "failed": [], "outbox_pending": [], "tasks": {}}
    lines = status_command.render(snap).splitlines()
    assert 'running: TASK-021: "Build ffl" — make (0s)' in lines
    assert 'running: TASK-021: "Build triager" (0s)' in lines
    assert "progress: 1 done, 2 in flight, 1 left" in lines


def test_the_progress_message_lists_every_criterion_in_flight() -> None:
    ffl, triager, verify = _actions()
    watch = ProgressWatch("TASK-021", 1800, send=None)
    run = watch.observer()
    run.on_run("TASK-021", (ffl, triager, verify))
    run.on_start("TASK-021", ffl, 1)
    run.on_start("TASK-021", triager, 1)
    title, body = watch.message()
    assert title.endswith(": 0 done, 2 in flight, 1 left")
    assert "## In Flight\n- ⏳ Build ffl (attempt 1, for " in body
    assert "\n- ⏳ Build triager (attempt 1, for " in body
    run.on_end("TASK-021", Result(triager, State.DONE, Outcome(Status.DONE), 1), 1.0)
    title, body = watch.message()
    assert title.endswith(": 1 done, 1 in flight, 1 left")
    assert "## Done So Far\n- ✅ Build triager\n" in body


def test_the_dashboard_row_gives_each_groups_wall_time() -> None:
    info = TaskInfo("TASK-021", "Builds", "high", "active", "TASK-021.md")
    report = Report(info, TaskResult.COMPLETE, 3, 3, (), (), (), (), (), "20260102T030405-abc",
                    groups=(GroupTime("FFL", "ffl", 372.0), GroupTime("Triager", "triager", 301),
                            GroupTime("Post-Build Verification", "", 20)), wall=392.5)
    row = dashboard.Row("TASK-021", "Builds", "TASK-021.md", 3, 3)
    entry = dashboard.dashrows.Entry("blob", "TASK-021", "Builds", 3, 3)
    last = dashboard._row(row, entry, {}, {}, report).last_run
    assert last == ("complete, 2026-01-02 03:04, this commit; groups: FFL 6m12s, Triager "
                    "5m01s, Post-Build Verification 20s of 6m32s")
    single = dashboard._row(row, entry, {}, {}, Report(
        info, TaskResult.COMPLETE, 3, 3, (), (), (), (), (), "20260102T030405-abc"))
    assert single.last_run == "complete, 2026-01-02 03:04, this commit"
