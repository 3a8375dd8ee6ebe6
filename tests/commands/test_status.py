"""`taskbot status [--json]`: status.json, the spool, the outbox, whether the daemon runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands import status as status_command
from bot.daemon import spool as queue
from bot.daemon import statusfile
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from tests.kit.config import write_config
from tests.kit.daemon import TASKBOT, idle_and_empty, running_daemon, until
from tests.kit.git import git, sandbox


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "taskbot.toml",
                        {"repo": {"path": tmp_path, "state_dir": tmp_path / "state"}})


def test_status_without_a_daemon_or_any_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    assert main(["status", "--config", str(config)]) == 3  # not running, as `systemctl status` says it
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "daemon: not running"
    assert "queue: 0 waiting" in out and "no task has run yet" in out
    assert main(["--config", str(config), "status", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["daemon"] == {"running": False, "pid": None, "state": "stopped"}
    assert doc["queue"] == [] and doc["tasks"] == {} and doc["outbox_pending"] == []


def test_status_lists_the_spool_failures_outbox_and_last_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    queue.enqueue(state, [f"{'a' * 40} {'b' * 40} refs/heads/main"])
    queue.enqueue(state, ["rerun TASK-002"])
    queue.fail(queue.pending(state)[1], "boom")
    Outbox(state).enqueue(Message("TASK-001 partial: 1/2 criteria done", "body", "partial"))
    statusfile.write(state, {
        "version": 1, "updated": "2026-11-26T14:30:00+01:00",
        "daemon": {"pid": os.getpid(), "started": "2026-11-26T14:00:00+01:00", "mode": "hook",
                   "state": "running", "status": "processing rerun TASK-001"},
        "queue_length": 1, "failed": 1,
        "in_flight": {"entry": "x.push", "item": "rerun TASK-001",
                      "since": "2026-11-26T14:29:00+01:00", "status": "running TASK-001"},
        "tasks": {"TASK-001": {"result": "partial", "title": "Release FFL", "done": "1/2",
                               "time": "2026-11-26T14:20:00+01:00", "commit": "c" * 40,
                               "run_id": "r1"}},
    })
    (state / "daemon.pid").write_text(f"{os.getpid()}\n")  # "alive": this very process
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert f"daemon: running (pid {os.getpid()}, hook mode)" in out
    assert "in flight: rerun TASK-001 since 2026-11-26T14:29:00+01:00 — running TASK-001" in out
    assert "queue: 1 waiting" in out and "refs/heads/main" in out
    assert "failed: 1 entries in queue/failed/" in out
    assert "notifications waiting: 1" in out and "TASK-001 partial: 1/2 criteria done (0 attempts" in out
    assert ("TASK-001: partial, 1/2 criteria done — Release FFL (2026-11-26T14:20:00+01:00) "
            "commit cccccccccccc") in out
    assert main(["--config", str(config), "status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["daemon"]["running"] is True and doc["queue_length"] == 1
    assert doc["in_flight"]["item"] == "rerun TASK-001"
    assert doc["tasks"]["TASK-001"]["commit"] == "c" * 40
    assert len(doc["failed"]) == 1 and len(doc["outbox_pending"]) == 1


def test_a_dead_daemons_pid_file_is_not_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (state / "daemon.pid").write_text(f"{dead.pid}\n")
    statusfile.write(state, {"daemon": {"state": "running"}, "in_flight": {"item": "x"}})
    snap = status_command.snapshot(state)
    assert snap["daemon"]["running"] is False and snap["daemon"]["state"] == "stopped"
    assert snap["in_flight"] is None


@pytest.mark.integration
def test_status_of_a_running_daemon_after_a_push(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    assert subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, check=False).returncode == 0
    state = box.root / "state"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write("tasks/active/TASK-001.md", "---\nid: TASK-001\ntitle: Hello\n---\n"
                  "## Acceptance Criteria\n"
                  '- [ ] Hello <!-- taskbot: shell project=demo cmd="true" -->\n')
        box.commit_push("add TASK-001")
        until(daemon.notify, lambda: "TASK-001" in str(statusfile.read(state).get("tasks"))
                             and idle_and_empty(state)())
        done = subprocess.run([str(TASKBOT), "--config", str(box.config), "status", "--json"],
                              capture_output=True, text=True, check=True)
        doc = json.loads(done.stdout)
        assert doc["daemon"]["running"] is True and doc["daemon"]["pid"] == daemon.proc.pid
        assert doc["daemon"]["state"] == "idle" and doc["queue_length"] == 0
        task = doc["tasks"]["TASK-001"]
        assert task["result"] == "complete" and task["title"] == "Hello"
        assert task["commit"] == git(box.bare, "rev-parse", "main")
    stopped = subprocess.run([str(TASKBOT), "--config", str(box.config), "status"],
                             capture_output=True, text=True, check=False)
    assert stopped.returncode == 3  # not running, as `systemctl status` says it
    text = stopped.stdout
    assert text.startswith("daemon: not running (last seen ")
    assert "TASK-001: complete, 1/1 criteria done — Hello" in text
