"""The durable spool: atomic entries in arrival order, removal after processing, one daemon."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bot.daemon import spool as queue

A = "a" * 40
B = "b" * 40
C = "c" * 40


def _state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    return state


def test_entries_come_back_in_arrival_order_with_their_lines(tmp_path: Path) -> None:
    state = _state(tmp_path)
    first = queue.enqueue(state, [f"{A} {B} refs/heads/main", f"{B} {C} refs/heads/dev"])
    second = queue.enqueue_reruns(state, ["TASK-002", "TASK-002", "TASK-003"])
    third = queue.enqueue(state, [f"{B} {C} refs/heads/main\n"])
    entries = queue.pending(state)
    assert [e.path for e in entries] == [first, second, third]
    assert entries[0].lines == (f"{A} {B} refs/heads/main", f"{B} {C} refs/heads/dev")
    assert entries[1].lines == ("rerun TASK-002", "rerun TASK-003")
    assert all(e.name.endswith(".push") and len(e.name.split("-")[0]) == 19 for e in entries)
    assert not list((state / "queue" / "tmp").iterdir())  # written in tmp/, renamed out


def test_names_stay_ordered_when_the_clock_steps_back(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    state = _state(tmp_path)
    later = queue.enqueue(state, ["rerun TASK-001"])
    monkeypatch.setattr(time, "time_ns", lambda: 1_000_000_000_000_000_000)
    earlier_clock = queue.enqueue(state, ["rerun TASK-002"])
    assert [e.path for e in queue.pending(state)] == [later, earlier_clock]


def test_done_removes_and_rest_keeps_the_place(tmp_path: Path) -> None:
    state = _state(tmp_path)
    first = queue.enqueue(state, ["rerun T-1", "rerun T-2"])
    second = queue.enqueue(state, ["rerun T-3"])
    entry = queue.pending(state)[0]
    queue.rest(entry, entry.lines[1:])
    assert [(e.path, e.lines) for e in queue.pending(state)] == [
        (first, ("rerun T-2",)), (second, ("rerun T-3",))]
    queue.done(queue.pending(state)[0])
    assert [e.path for e in queue.pending(state)] == [second]
    queue.rest(queue.pending(state)[0], ())
    assert queue.pending(state) == []


def test_fail_moves_the_entry_aside_with_its_reason(tmp_path: Path) -> None:
    state = _state(tmp_path)
    queue.enqueue(state, ["rerun T-1"])
    target = queue.fail(queue.pending(state)[0], "GitError: boom")
    assert queue.pending(state) == []
    assert queue.failed(state) == [target]
    assert target.read_text() == "rerun T-1\n"
    assert target.with_name(target.name + ".reason").read_text() == "GitError: boom\n"


@pytest.mark.parametrize("line", [
    "", "rerun", "rerun two words", "rerun bad/id", f"{A} {B}", f"{A} {B} main",
    f"{A[:39]} {B} refs/heads/main", f"{A} {B} refs/heads/main extra", "ZZZ",
])
def test_malformed_lines_are_refused_and_nothing_is_written(tmp_path: Path, line: str) -> None:
    state = _state(tmp_path)
    with pytest.raises(queue.QueueError):
        queue.enqueue(state, ["rerun TASK-1", line] if line else [line])
    assert queue.pending(state) == []


def test_parse_line() -> None:
    push = queue.parse_line(f"{A} {'0' * 40} refs/heads/main")
    assert (push.kind, push.old, push.new, push.ref) == ("push", A, "0" * 40, "refs/heads/main")
    assert queue.parse_line("rerun TASK-7") == queue.Line("rerun", task_id="TASK-7")
    sha256 = "d" * 64
    assert queue.parse_line(f"{sha256} {sha256} refs/heads/x").new == sha256


def test_missing_state_dir_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(queue.QueueError, match="does not exist"):
        queue.enqueue(tmp_path / "nope", ["rerun T-1"])
    assert not (tmp_path / "nope").exists()


def test_spool_dirs_are_group_writable_and_sticky(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.chmod(0o755)
    qdir = queue.ensure_dirs(state)
    for d in (qdir, qdir / "tmp", qdir / "failed"):
        assert (d.stat().st_mode & 0o7777) == 0o3770


def test_pending_reads_files_the_sh_hook_wrote_and_ignores_others(tmp_path: Path) -> None:
    state = _state(tmp_path)
    qdir = queue.ensure_dirs(state)
    hook_name = f"{time.time_ns()}-4242.push"
    (qdir / hook_name).write_text(f"{A} {B} refs/heads/main\n\n")
    (qdir / ".taskbot-probe").write_text("")
    (qdir / "notes.txt").write_text("x")
    (qdir / "tmp" / "123-1.push").write_text("half")
    python_entry = queue.enqueue(state, ["rerun T-9"])
    assert [e.name for e in queue.pending(state)] == [hook_name, python_entry.name]
    assert queue.pending(state)[0].lines == (f"{A} {B} refs/heads/main",)


def test_clean_tmp_removes_abandoned_writes_and_names_already_linked(tmp_path: Path) -> None:
    state = _state(tmp_path)
    qdir = queue.ensure_dirs(state)
    tdir = qdir / "tmp"
    old, new, linked = tdir / "1-1.push", tdir / "2-2.push", tdir / "3-3.push"
    old.write_text("x")
    new.write_text("y")
    linked.write_text("rerun T-1\n")
    os.link(linked, qdir / linked.name)  # what the sh hook does
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert queue.clean_tmp(state) == 2
    assert not old.exists() and new.exists() and not linked.exists()
    assert [e.lines for e in queue.pending(state)] == [("rerun T-1",)]


def test_done_removes_the_hooks_second_name(tmp_path: Path) -> None:
    state = _state(tmp_path)
    qdir = queue.ensure_dirs(state)
    (qdir / "tmp" / "5-5.push").write_text("rerun T-1\n")
    os.link(qdir / "tmp" / "5-5.push", qdir / "5-5.push")
    queue.done(queue.pending(state)[0])
    assert not list(qdir.rglob("*.push"))


def test_one_daemon_per_state_dir(tmp_path: Path) -> None:
    state = _state(tmp_path)
    with queue.lock(state):
        with pytest.raises(queue.QueueBusy, match="another 'taskbot serve'"), queue.lock(state):
            pass
        # another process (flock is per open file description) is refused too
        probe = subprocess.run(["flock", "-n", str(state / "daemon.lock"), "true"], check=False)
        assert probe.returncode != 0
    with queue.lock(state):  # released on exit
        pass
