"""Nothing one task, one kill or one `rm -rf` does stops the daemon or leaves commands behind.

Items 5 (commands die with the daemon; a restart kills what the journal says is still
running), 7 (a Unicode task id waiting on a dependency) and 11 (the spool or the whole
state dir removed under a running daemon) of issue 9, with `taskbot serve` as a child.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import alive, installed, task_text, wait_until
from tests.kit.git import Sandbox, git

# The first run leaves a grandchild (`sleep 30`) in the command's process group; the second
# run (after `go` exists) ends at once.
LINGER = ("sh -c 'echo $$ >> {d}/pids; test -e {d}/go && exit 0; sleep 30 & echo $! > {d}/gpid; "
          "wait'")


def _done(state: Path, task_id: str) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and task_id in tasks and idle_and_empty(state)()


def _recorded_groups(state: Path) -> list[object]:
    try:
        doc = json.loads((state / "journal.json").read_text())
    except (OSError, ValueError):
        return []
    return [g for t in doc.get("tasks", {}).values() for g in (t.get("running") or {}).get(
        "groups", [])]


def _pid(path: Path) -> int:
    wait_until(lambda: path.exists() and path.read_text().strip() != "", what=f"{path}")
    return int(path.read_text().split()[0])


@pytest.mark.integration
def test_commands_die_with_the_daemon_and_a_restart_kills_their_group(tmp_path: Path) -> None:
    box = installed(tmp_path)
    state = box.root / "state"
    marks = tmp_path / "marks"
    marks.mkdir()
    rel = "tasks/active/TASK-1.md"
    box.write(rel, task_text("TASK-1", [("Linger", LINGER.format(d=marks))]))
    grandchild = 0
    try:
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            box.commit_push("add TASK-1")
            grandchild = _pid(marks / "gpid")
            command = _pid(marks / "pids")
            # The kill comes once the journal names the command's group, as it does right
            # after the fork (a kill before that is the one window it cannot cover).
            wait_until(lambda: _recorded_groups(state) != [], 5, "the group in the journal")
            daemon.proc.kill()
            daemon.proc.wait(10)
        wait_until(lambda: not alive(command), 2, "the command to die with the daemon")
        (marks / "go").touch()
        with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
            until(daemon.notify, lambda: _done(state, "TASK-1"))
        assert not alive(grandchild)  # killed through the journal's process group
        assert len((marks / "pids").read_text().split()) == 2  # interrupted, run once more
        final = box.main_file(rel)
        assert "- [x] Linger" in final and "(interrupted, run again)" in final
    finally:
        if grandchild and alive(grandchild):
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild, signal.SIGKILL)


def _push_task(box: Sandbox, task_id: str, count: Path) -> None:
    box.write(f"tasks/active/{task_id}.md",
              task_text(task_id, [("Record", f"sh -c 'echo {task_id} >> {count}'")]))
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
    box.commit_push(f"add {task_id}")


@pytest.mark.integration
def test_a_unicode_task_waiting_on_a_dependency_cannot_stop_the_daemon(tmp_path: Path) -> None:
    box = installed(tmp_path)
    state = box.root / "state"
    count = tmp_path / "COUNT"
    box.write("tasks/active/DEP-1.md", "---\nid: DEP-1\ntitle: Dependency\n---\n# DEP-1\n\n"
              "## Acceptance Criteria\n- [ ] Approved by a person\n")
    box.write("tasks/active/TÄSK-1.md", task_text(
        "TÄSK-1", [("Record", f"sh -c 'echo TÄSK-1 >> {count}'")], deps=["DEP-1"]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("add DEP-1 and TÄSK-1")
        until(daemon.notify, lambda: _done(state, "DEP-1"))
        assert not count.exists()  # TÄSK-1 waits for DEP-1
        git(box.clone, "pull", "-q", "--rebase", "origin", "main")  # taskbot wrote there
        dep = box.clone / "tasks/active/DEP-1.md"
        dep.write_text(dep.read_text().replace("- [ ]", "- [x]"))
        box.commit_push("DEP-1 approved")
        until(daemon.notify, lambda: count.exists() and _done(state, "TÄSK-1"))
        assert daemon.proc.poll() is None
        _push_task(box, "TASK-3", count)
        until(daemon.notify, lambda: _done(state, "TASK-3"))
        assert daemon.proc.poll() is None
        assert status_doc(state)["daemon"]["pid"] == daemon.proc.pid  # type: ignore[index]
    assert count.read_text().splitlines() == ["TÄSK-1", "TASK-3"]
    assert "- [x] Record" in box.main_file("tasks/active/TÄSK-1.md")


@pytest.mark.integration
@pytest.mark.parametrize("removed", ["queue", "."])
def test_the_state_dir_removed_under_a_running_daemon_is_made_again(
        tmp_path: Path, removed: str) -> None:
    box = installed(tmp_path)
    state = box.root / "state"
    count = tmp_path / "COUNT"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _push_task(box, "TASK-1", count)
        until(daemon.notify, lambda: _done(state, "TASK-1"))
        # Moved away whole first, as `rm -rf` would take it from under the daemon, which
        # starts making it again at once (a plain rmtree would race with that).
        (state / removed).rename(tmp_path / "gone")
        shutil.rmtree(tmp_path / "gone")
        wait_until((state / "queue" / "tmp").is_dir, 10, "the spool to be made again")
        _push_task(box, "TASK-2", count)
        until(daemon.notify, lambda: _done(state, "TASK-2"))
        assert daemon.proc.poll() is None
    assert count.read_text().splitlines() == ["TASK-1", "TASK-2"]
    assert "- [x] Record" in box.main_file("tasks/active/TASK-2.md")
