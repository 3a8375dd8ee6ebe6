"""Watching work happen: the terminal status line of `taskbot run`, the daemon's log lines
with journald priorities, `taskbot status` during and after a run, and the dashboard."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot import dashboard
from bot.commands import status as status_command
from bot.daemon import statusfile
from bot.pipeline import Push, process
from bot.plugin.plugins import load_handlers
from tests.kit.daemon import TASKBOT, env_for, running_daemon
from tests.kit.git import Sandbox, git, sandbox

pytestmark = pytest.mark.integration

SLOW = "sh -c 'echo step-one; sleep 1; echo step-two; sleep 1'"
TASK = f"""\
---
id: TASK-001
title: Watch me
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] Slow step <!-- taskbot: shell project=demo cmd="{SLOW}" -->
- [ ] Breaks <!-- taskbot: shell project=demo cmd="false" -->

## Progress Log
- 2026-01-01 10:00: created
"""
NOW = datetime(2026, 11, 26, 14, 30).astimezone()


def _with_dashboard(box: Sandbox) -> None:
    text = box.config.read_text()
    box.config.write_text(text.replace('[repo]\n', '[repo]\ndashboard = "tasks/DASHBOARD.md"\n', 1))


def _read_pty(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def test_run_on_a_terminal_shows_the_criterion_elapsed_time_and_output(tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    box.write("tasks/active/TASK-001.md", TASK)
    master, slave = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen([str(TASKBOT), "run", "TASK-001", "--no-notify", "--config",
                             str(box.config)], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL, env=env_for(None), cwd=tmp_path)
    os.close(slave)
    try:
        early = _read_pty(master, proc, 1.6)  # the command sleeps 2 s in all
        early_at = time.monotonic() - started
        rest = _read_pty(master, proc, 30)
    finally:
        proc.wait(30)
        os.close(master)
    text = early.decode(errors="replace")
    assert early_at < 2.0  # read while the command (2 s of sleep) still ran
    assert "step-one" in text and "Slow step" in text, text
    assert "\r\x1b[K" in text and ("— 0s" in text or "— 1s" in text), text
    assert "Task Execution Report" in (early + rest).decode(errors="replace")


def test_run_into_a_pipe_prints_exactly_the_report(tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    box.write("tasks/active/TASK-001.md", TASK.replace(SLOW, "echo hi"))
    done = subprocess.run([str(TASKBOT), "run", "TASK-001", "--no-notify", "--config",
                           str(box.config)], capture_output=True, env=env_for(None),
                          cwd=tmp_path, timeout=60, check=False)
    assert b"\r" not in done.stdout and b"\x1b" not in done.stdout
    assert done.stdout.startswith(b"# Task Execution Report")


def _wait_for(path: Path, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in {path}:\n{text}")


@pytest.mark.parametrize("journal", [True, False])
def test_daemon_logs_each_criterion_with_journald_priorities(tmp_path: Path,
                                                             journal: bool) -> None:
    box = sandbox(tmp_path, bare=False)
    box.write("README.md", "x\n")
    box.commit_push("first")
    (tmp_path / "state").mkdir(exist_ok=True)
    log = tmp_path / "serve.log"
    extra = {"JOURNAL_STREAM": "1:1"} if journal else {}
    with running_daemon(box.config, log, **extra):
        box.write("tasks/active/TASK-001.md", TASK.replace(SLOW, "true"))
        git(box.clone, "add", "-A")
        git(box.clone, "commit", "-q", "-m", "add task")
        text = _wait_for(log, 'TASK-001: failed "Breaks"')
    lines = text.splitlines()
    started = [ln for ln in lines if 'TASK-001: started "Slow step"' in ln]
    done = [ln for ln in lines if 'TASK-001: done "Slow step" in' in ln]
    failed = [ln for ln in lines if 'TASK-001: failed "Breaks" in' in ln]
    assert started and done and failed, text
    if journal:
        assert all(ln.startswith("<") for ln in lines if "taskbot: " in ln), text
        assert started[0].startswith("<6>taskbot: ") and done[0].startswith("<6>taskbot: ")
        assert failed[0].startswith("<3>taskbot: ") and "false exited 1" in failed[0]
    else:
        assert not any(ln.startswith("<") for ln in lines), text


def test_status_renders_the_criterion_in_flight() -> None:
    since = datetime.now().astimezone().isoformat(timespec="seconds")
    snap = {"daemon": {"running": True, "pid": 1, "mode": "hook", "status": "busy"},
            "state_dir": "/s", "in_flight": {"item": "a b c", "since": since, "task": "TASK-1",
                                             "criterion": "Build it", "command": "make all",
                                             "criterion_since": since},
            "queue": [], "queue_length": 0, "failed": [], "outbox_pending": [], "tasks": {}}
    text = status_command.render(snap)
    assert 'running: TASK-1: "Build it" — make all (0s)' in text


def test_run_commit_updates_the_tasks_entry_only(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK.replace(SLOW, "true"))
    box.commit_push("add task")
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    statusfile.write(state, {"version": 1, "daemon": {"pid": 42, "state": "idle"},
                             "tasks": {"TASK-001": {"result": "blocked", "done": "0/2"},
                                       "TASK-009": {"result": "complete", "done": "1/1"}}})
    done = subprocess.run([str(TASKBOT), "run", "TASK-001", "--commit", "--no-notify",
                           "--config", str(box.config)], capture_output=True,
                          env=env_for(None), cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    doc = json.loads((state / "status.json").read_text())
    assert doc["daemon"] == {"pid": 42, "state": "idle"}
    assert doc["tasks"]["TASK-009"] == {"result": "complete", "done": "1/1"}
    assert doc["tasks"]["TASK-001"]["done"] == "1/2"
    assert doc["tasks"]["TASK-001"]["result"] == "partial"
    shown = subprocess.run([str(TASKBOT), "status", "--config", str(box.config)],
                           capture_output=True, text=True, env=env_for(None), check=False)
    assert "TASK-001: partial, 1/2 criteria done" in shown.stdout


def test_the_daemon_writing_from_memory_keeps_what_run_commit_recorded(tmp_path: Path) -> None:
    """The daemon rewrites status.json on every criterion it starts; a task `run --commit`
    recorded meanwhile (while the daemon runs a long build) keeps its newer entry."""
    daemon = statusfile.StatusWriter(tmp_path)
    daemon.record("TASK-001", {"result": "blocked", "done": "0/2",
                               "time": "2026-12-02T10:00:00+00:00"})
    daemon.record("TASK-002", {"result": "partial", "done": "1/3",
                               "time": "2026-12-02T10:05:00+00:00"})
    assert daemon.write({"version": 1}) == ""
    statusfile.record_task(tmp_path, "TASK-001", {"result": "complete", "done": "2/2",
                                                  "time": "2026-12-02T10:20:00+00:00"})
    statusfile.record_task(tmp_path, "TASK-003", {"result": "complete", "done": "1/1",
                                                  "time": "2026-12-02T10:21:00+00:00"})
    assert daemon.write({"version": 1, "daemon": {"state": "running"}}) == ""
    doc = statusfile.read(tmp_path)
    assert doc["daemon"] == {"state": "running"}
    assert {k: v["done"] for k, v in doc["tasks"].items()} == {
        "TASK-001": "2/2", "TASK-002": "1/3", "TASK-003": "1/1"}


def test_the_daemons_status_file_keeps_the_newest_tasks_and_escapes_them(tmp_path: Path) -> None:
    daemon = statusfile.StatusWriter(tmp_path, limit=3)
    for i in range(1, 6):
        daemon.record(f"T-{i}", {"title": f"T {i} \ud800", "time": f"2026-12-0{i}T10:00:00+00:00"})
        assert daemon.write({"version": 1, "daemon": {"state": "running"}}) == ""
    text = (tmp_path / "status.json").read_text(encoding="utf-8")
    assert text.endswith("\n }\n}\n")  # one line per task, the document whole
    assert {k: v["title"] for k, v in json.loads(text)["tasks"].items()} == {
        f"T-{i}": f"T {i} \\ud800" for i in (3, 4, 5)}  # the lone surrogate, escaped


def test_the_daemons_task_table_joined_once_is_written_as_joined_anew(tmp_path: Path) -> None:
    """The table is joined once until an entry changes: every status line writes the bytes
    a writer joining it afresh writes, through records, the bound and run --commit."""
    daemon = statusfile.StatusWriter(tmp_path / "a", limit=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    entries: dict[str, dict[str, str]] = {}
    for i in range(1, 6):
        entries[f"T-{i}"] = {"done": f"{i}/5", "time": f"2026-12-0{i}T10:00:00+00:00"}
        daemon.record(f"T-{i}", entries[f"T-{i}"])
        for state in ("running", "idle"):
            doc = {"version": 1, "daemon": {"state": state, "status": f"T-{i}"}}
            assert daemon.write(doc) == ""
            fresh = statusfile.StatusWriter(tmp_path / "b", limit=3)
            for task_id in statusfile.bounded(entries, 3):
                fresh.record(task_id, entries[task_id])
            assert fresh.write(doc) == ""
            assert (tmp_path / "a/status.json").read_bytes() \
                == (tmp_path / "b/status.json").read_bytes()
    statusfile.record_task(tmp_path / "a", "T-5", {"done": "5/5",
                                                   "time": "2026-12-09T10:00:00+00:00"})
    assert daemon.write({"version": 1}) == ""
    assert statusfile.read(tmp_path / "a")["tasks"]["T-5"]["done"] == "5/5"


def _push_run(box: Sandbox, old: str, new: str) -> None:
    config = configmod.load(box.config)
    process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)


def test_dashboard_is_kept_in_taskbots_commit(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    _with_dashboard(box)
    box.write("tasks/active/TASK-001.md", TASK.replace(SLOW, "true"))
    old, new = box.commit_push("add task")
    _push_run(box, old, new)
    text = box.main_file("tasks/DASHBOARD.md")
    assert text.startswith(dashboard.MARKER + "\n")
    assert "| [TASK-001](active/TASK-001.md) | Watch me | 1/2 | — | partial," in text
    changed = git(box.bare, "show", "--name-only", "--format=", "main").split()
    assert sorted(changed) == ["tasks/DASHBOARD.md", "tasks/active/TASK-001.md"]
    # a push that changes nothing taskbot writes: no commit, the dashboard as it was
    git(box.clone, "pull", "-q", "origin", "main")
    box.write("notes.txt", "unrelated\n")
    old2, new2 = box.commit_push("unrelated")
    _push_run(box, old2, new2)
    assert box.main_file("tasks/DASHBOARD.md") == text
    touched = git(box.bare, "log", "--format=%H", "main", "--", "tasks/DASHBOARD.md")
    assert len(touched.split()) == 1


def test_dashboard_is_never_run_as_a_task(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    _with_dashboard(box)
    box.write("tasks/DASHBOARD.md", "---\nid: DASH\n---\n# DASH\n\n## Acceptance Criteria\n"
              '- [ ] Boom <!-- taskbot: shell project=demo cmd="touch boom" -->\n')
    old, new = box.commit_push("a dashboard with a checkbox")
    config = configmod.load(box.config)
    assert process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW) == ()
    assert not (tmp_path / "demo" / "boom").exists()


def test_dashboard_inside_tasks_dir_is_refused(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    text = box.config.read_text()
    box.config.write_text(text.replace("[repo]\n", '[repo]\ndashboard = "tasks/active/D.md"\n'))
    with pytest.raises(configmod.ConfigError, match="outside tasks_dir"):
        configmod.load(box.config)


def test_dashboard_written_only_when_changed(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    _with_dashboard(box)
    config = configmod.load(box.config)
    wt = tmp_path / "wt"
    (wt / "tasks/active").mkdir(parents=True)
    (wt / "tasks/active/TASK-001.md").write_text(TASK)
    assert dashboard.refresh(config, wt) is True
    first = (wt / "tasks/DASHBOARD.md").stat().st_mtime_ns
    assert dashboard.refresh(config, wt) is False
    assert (wt / "tasks/DASHBOARD.md").stat().st_mtime_ns == first
    assert "- [ ]" not in (wt / "tasks/DASHBOARD.md").read_text()


def test_kept_branches_are_listed(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    _with_dashboard(box)
    box.write("a.txt", "a\n")
    box.commit_push("first")
    git(box.clone, "checkout", "-q", "-b", "taskbot/TASK-002")
    box.write("b.txt", "b\n")
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "-m", "kept")
    git(box.clone, "push", "-q", "origin", "taskbot/TASK-002")
    config = configmod.load(box.config)
    kept = dashboard.kept_branches(config)
    assert [name for name, _ in kept] == ["taskbot/TASK-002"]
    text = dashboard.render(config, (), kept)
    assert "`taskbot/TASK-002`" in text and "not merged into `main`" in text
