"""Only the spool is the pushers'; taskbot refuses state it does not own; full disks are
reported, not fatal; any Unicode task id can be queued again."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot import config as configmod
from bot.cli import main
from bot.daemon import spool as queue
from bot.daemon import statusfile
from bot.git import owncommits
from bot.git import worktree as worktrees
from bot.git import write as gitrepo
from bot.notify import outbox as outboxmod
from bot.notify import redactor, reportstore
from bot.notify.outbox import Outbox
from bot.notify.publish import publish
from bot.notify.targets import Delivery, Message
from bot.run.report import Report, TaskInfo
from bot.state import statedir
from tests.kit.git import sandbox

NOBODY = 65534
MESSAGE = Message("TASK-001 partial", "# report\n", "partial", "TASK-001", "run-1")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _foreign(path: Path) -> Path:
    os.chown(path, NOBODY, -1, follow_symlinks=False)
    return path


@as_root
def test_a_state_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / statedir.OWN_COMMITS
    path.write_text("a" * 40 + "\n")
    _foreign(path)
    with pytest.raises(statedir.NotOwned, match=f"{path} is owned by uid {NOBODY}"):
        owncommits.load(tmp_path)
    with pytest.raises(statedir.NotOwned):
        owncommits.record(tmp_path, "b" * 40)
    assert path.read_text() == "a" * 40 + "\n"


@as_root
def test_status_json_someone_else_put_there_is_not_read(tmp_path: Path) -> None:
    assert statusfile.write(tmp_path, {"tasks": {"T-1": {}}}) == ""
    assert statusfile.read(tmp_path) == {"tasks": {"T-1": {}}}
    _foreign(tmp_path / statedir.STATUS)
    assert statusfile.read(tmp_path) == {}


@as_root
def test_an_outbox_entry_someone_else_wrote_is_never_sent(tmp_path: Path) -> None:
    sent: list[Message] = []
    box = Outbox(tmp_path, send=lambda m, _: sent.append(m) or Delivery())  # type: ignore[func-returns-value]
    entry = box.enqueue(MESSAGE, now=1.0)
    _foreign(box.dir / f"{entry.id}.json")
    assert box.deliver_due(now=2.0).delivered == () and sent == []


@as_root
def test_a_clone_or_worktree_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    (state / "clones").mkdir(parents=True)
    _foreign(state / "clones")
    with pytest.raises(statedir.NotOwned, match="clones is owned by uid"):
        gitrepo.private_clone(box.bare, state)
    (state / "worktrees").mkdir()
    _foreign(state / "worktrees")
    with pytest.raises(statedir.NotOwned, match="worktrees is owned by uid"):
        worktrees.worktree(box.clone, state, "taskbot/T-1", "main")


def test_init_makes_the_state_dir_private_and_the_spool_sticky(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = sandbox(tmp_path)
    assert main(["init", "--config", str(box.config)]) == 0, capsys.readouterr()
    state = tmp_path / "state"
    assert state.stat().st_mode & 0o7777 == 0o755
    for d in ("queue", "queue/tmp", "queue/failed"):
        assert (state / d).stat().st_mode & 0o7777 == 0o3770
    assert statedir.problems(state) == []


def test_doctor_flags_a_group_writable_clones_dir(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = sandbox(tmp_path)
    assert main(["init", "--config", str(box.config)]) == 0
    clones = tmp_path / "state" / "clones"
    clones.mkdir()
    clones.chmod(0o2770)
    (tmp_path / "state" / "queue").chmod(0o2770)
    capsys.readouterr()
    main(["--config", str(box.config), "doctor"])
    lines = capsys.readouterr().out.splitlines()
    assert f"FAIL state_dir: {clones} is writable by others (mode 2770): chmod go-w {clones}" in lines
    queue_dir = tmp_path / "state" / "queue"
    assert (f"FAIL state_dir: {queue_dir} is writable by others without the sticky bit: "
            f"chmod 3770 {queue_dir}") in lines


# --- a full or failing disk: reported, never fatal, nothing lost ---------------------------

def _enospc(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_outbox_survives_a_full_disk_and_keeps_the_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Outbox(tmp_path, send=lambda m, _: Delivery(errors=("down",)))
    entry = box.enqueue(MESSAGE, now=1.0)
    monkeypatch.setattr(outboxmod, "write_atomic", _enospc)
    result = box.deliver_due(now=2.0)  # the rewrite after the failed try cannot be written
    assert [e.id for e in result.failed] == [entry.id]
    assert [e.id for e in box.pending()] == [entry.id]  # still there, tried again later
    with pytest.raises(OSError):
        box.enqueue(replace(MESSAGE, run_id="another-run"), now=3.0)  # publish reports it


def test_status_write_on_a_full_disk_returns_the_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statusfile, "write_atomic", _enospc)
    assert "No space left on device" in statusfile.write(tmp_path, {"version": 1})


def test_a_report_that_cannot_be_stored_is_a_problem_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = sandbox(tmp_path)
    config = configmod.load(box.config)
    report = Report(TaskInfo("T-1", "T-1", "-", "-", "tasks/active/T-1.md"), "blocked", 0, 0,
                    (), (), (), (), (), "20261126T143000-x", notes=("why",))
    monkeypatch.setattr(reportstore, "write_atomic", _enospc)
    done = publish(config, report, redactor(config), send=False)
    assert not done.stored and "No space left on device" in done.problem




# --- any Unicode task id ---------------------------------------------------------------------

def test_a_unicode_task_id_is_queued_again(tmp_path: Path) -> None:
    path = queue.enqueue_reruns(tmp_path, ["TÄSK-1", "T-2"])
    assert path is not None
    (entry,) = queue.pending(tmp_path)
    assert [queue.parse_line(line).task_id for line in entry.lines] == ["TÄSK-1", "T-2"]


@pytest.mark.parametrize("bad", ["..", "a/b", "x\x00y", "bad\u202eid", "x" * 129])
def test_a_bad_task_id_is_skipped_with_its_reason_never_raised(tmp_path: Path, bad: str) -> None:
    heard: list[str] = []
    path = queue.enqueue_reruns(tmp_path, [bad, "TÄSK-1"], on_skip=heard.append)
    assert path is not None and len(heard) == 1 and "not a task id" in heard[0]
    (entry,) = queue.pending(tmp_path)
    assert entry.lines == ("rerun TÄSK-1",)
    assert queue.enqueue_reruns(tmp_path, [bad], on_skip=heard.append) is None


def test_json_report_store_still_round_trips(tmp_path: Path) -> None:
    stored = reportstore.save(tmp_path, "TÄSK-1", "run-1", "# r\n", {"a": 1})
    assert json.loads(stored.json_path.read_text()) == {"a": 1}
    assert reportstore.last(tmp_path, "TÄSK-1").run_id == "run-1"
