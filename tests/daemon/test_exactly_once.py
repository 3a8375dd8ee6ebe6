"""Finished criteria never run twice: after kill -9 (item 4) or a forged spool line (item 12).

`taskbot serve` runs as a child process of the test with the real hook and real pushes;
the daemon is killed with SIGKILL while a criterion runs, then started again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.daemon import spool
from tests.kit.daemon import await_entries, idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import await_path, bare_branches, installed, reports, task_text
from tests.kit.git import git

WAIT_FOR_GO = ("sh -c 'touch {d}/started; i=0; while [ ! -e {d}/go ] && [ $i -lt 300 ]; "
               "do sleep 0.05; i=$((i+1)); done; test -e {d}/go'")


def _done(state: Path, task_id: str) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and task_id in tasks and idle_and_empty(state)()


@pytest.mark.integration
def test_kill_9_mid_task_runs_finished_criteria_never_again(tmp_path: Path) -> None:
    box = installed(tmp_path)
    state = box.root / "state"
    marks = tmp_path / "marks"
    marks.mkdir()
    count = tmp_path / "COUNT"
    rel = "tasks/active/TASK-1.md"
    box.write(rel, task_text("TASK-1", [("Build", f"sh -c 'echo x >> {count}'"),
                                        ("Deploy", WAIT_FOR_GO.format(d=marks))]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("add TASK-1")
        await_path(marks / "started")  # Build ended, Deploy is running
        daemon.proc.kill()
        daemon.proc.wait(10)
    assert "TASK-1" not in (status_doc(state).get("tasks") or {})  # nothing finished yet
    (marks / "started").unlink()
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        await_path(marks / "started")  # the interrupted criterion runs once more
        (marks / "go").touch()
        until(daemon.notify, lambda: _done(state, "TASK-1"))
        log = daemon.stderr()
    assert "resuming the item a stopped daemon left" in log
    assert count.read_text().splitlines() == ["x"]  # Build's outcome was recorded: not rerun
    final = box.main_file(rel)
    assert "- [x] Build" in final and "- [x] Deploy" in final
    deploy_log = [line for line in final.splitlines() if "Deploy" in line and "[x]" not in line]
    assert any("(interrupted, run again)" in line for line in deploy_log), final
    assert not any("Build" in line and "interrupted" in line for line in final.splitlines())
    bot = [s for s in git(box.bare, "log", "--format=%ae %s", "main").splitlines()
           if s.startswith("taskbot@")]
    assert len(bot) == 1, bot  # one commit for the run, not one per start
    assert len(reports(state, "TASK-1")) == 1
    assert bare_branches(box) == []
    assert not (state / "journal.json").exists()


@pytest.mark.integration
def test_a_spool_line_naming_an_old_commit_replays_nothing(tmp_path: Path) -> None:
    box = installed(tmp_path)
    state = box.root / "state"
    count = tmp_path / "COUNT"
    rel = "tasks/active/TASK-2.md"
    box.write(rel, task_text("TASK-2", [("Deploy 0.1.17", f"sh -c 'echo run >> {count}'")]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _, old = box.commit_push("add TASK-2")
        until(daemon.notify, lambda: _done(state, "TASK-2"))
        assert count.read_text().splitlines() == ["run"]
        before = git(box.bare, "rev-parse", "main")
        # What any pusher can drop into queue/: the old, trusted commit as a fresh push.
        spool.enqueue(state, [f"{'0' * 40} {old} refs/heads/main"])
        spool.enqueue(state, ["rerun TASK-2"])
        until(daemon.notify, lambda: not spool.pending(state) and idle_and_empty(state)())
        log = daemon.stderr()
    assert count.read_text().splitlines() == ["run"]
    assert git(box.bare, "rev-parse", "main") == before  # no new tick, no new commit
    assert f"the spool line names {old[:12]}" in log
    assert spool.failed(state) == []


@pytest.mark.integration
def test_a_wake_up_queued_again_behind_itself_costs_one_run(tmp_path: Path) -> None:
    """A signed webhook replayed with its delivery id changed or left out leaves the same
    wake-up many times: the first read of the branch covers every copy already in the
    spool, so they are taken with it. A wake-up for another ref, or a rerun, stays its own."""
    box = installed(tmp_path)
    state = box.root / "state"
    count = tmp_path / "COUNT"
    box.write("tasks/active/TASK-3.md", task_text("TASK-3", [("Once", f"sh -c 'echo run >> {count}'")]))
    _, new = box.commit_push("add TASK-3")
    await_entries(state, 1)
    line = f"{'0' * 40} {new} refs/heads/main"  # what the forge's push event says
    for _ in range(19):
        spool.enqueue(state, [line])
    spool.enqueue(state, [f"{'0' * 40} {new} refs/heads/other"])
    spool.enqueue(state, [line, "rerun TASK-3"])
    assert len(spool.pending(state)) == 22
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, lambda: _done(state, "TASK-3") and not spool.pending(state))
        log = daemon.stderr()
    assert count.read_text().splitlines() == ["run"]
    woken = [m.group(1) for m in re.finditer(r"processing (push \S+ \S+|rerun \S+) from", log)
             if f"..{new[:8]} " in m.group(1) or "rerun" in m.group(1)]  # not taskbot's pushes
    # the hook's line; the forge's line once, and once more with the rerun; other; the rerun
    assert len(woken) == 5, woken
    assert woken.count(f"push {'0' * 8}..{new[:8]} refs/heads/main") == 2, woken
    assert spool.failed(state) == []
