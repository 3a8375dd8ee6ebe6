"""No item holds the daemon: one that shows no sign of life for `limits.stall_timeout` is
set aside with a report, and the daemon goes on with the pushes after it.

A third-party handler that never returns (pure Python, no command: nothing times it out)
stands for any input that would hold the daemon; while its criterion runs it may be quiet
as long as the command and build timeouts, which the test sets as short as the stall
budget. Real daemon, real hook, real `git push`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc
from tests.kit.exactly import installed, wait_until
from tests.kit.git import Sandbox, git
from tests.kit.receivers import HttpReceiver

pytestmark = pytest.mark.integration

PLUGIN = '''
import time
from bot.api import Outcome, Status, Step


class Hang:
    name = "hang"
    params = ()
    rules = ()

    def settings(self, params, ctx):
        return None

    def plan(self, settings, ctx):
        return Step()

    def run(self, settings, ctx):
        while True:  # never returns, never runs a command
            time.sleep(0.05)


class Hello:
    name = "hello"
    params = ()
    rules = ()

    def settings(self, params, ctx):
        return None

    def plan(self, settings, ctx):
        return Step()

    def run(self, settings, ctx):
        return Outcome(Status.DONE, evidence=("hello",))


HANG = Hang()
HELLO = Hello()
'''


def _plugin(site: Path) -> Path:
    site.mkdir()
    (site / "stallplugin.py").write_text(PLUGIN)
    info = site / "stallplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stallplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[taskbot.handlers]\nhang = stallplugin:HANG\nhello = stallplugin:HELLO\n")
    (info / "RECORD").write_text("")
    return site


def _with_stall_timeout(box: Sandbox, value: str) -> None:
    """The stall budget, and the command and build timeouts that bound a handler's own
    quiet while its criterion runs, all `value`."""
    text = box.config.read_text().replace('command_timeout = "20s"', f'command_timeout = "{value}"')
    box.config.write_text(text.replace(
        "[limits]\n", f'[limits]\nstall_timeout = "{value}"\nbuild_timeout = "{value}"\n', 1))


def _task(box: Sandbox, task_id: str, handler: str) -> None:
    box.write(f"tasks/active/{task_id}.md",
              f"---\nid: {task_id}\ntitle: {task_id}\n---\n## Acceptance Criteria\n"
              f"- [ ] Do it <!-- taskbot: {handler} -->\n")


def test_an_item_without_sign_of_life_is_set_aside_and_the_next_push_runs(tmp_path: Path
                                                                          ) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        _with_stall_timeout(box, "2s")
        state = tmp_path / "state"
        site = _plugin(tmp_path / "site")
        with running_daemon(box.config, tmp_path / "serve.log", PYTHONPATH=str(site)) as daemon:
            pid = daemon.proc.pid
            _task(box, "TASK-001", "hang")
            _, stuck = box.commit_push("a task whose handler never returns",
                                       "--author", "Becker <becker@example.com>")
            # The stalled daemon's successor moves the line aside, then idles.
            failed = state / "queue" / "failed"
            wait_until(lambda: any(failed.glob("*.reason")), timeout=30,
                       what="the stalled item set aside")
            wait_until(idle_and_empty(state), timeout=30, what="the daemon idle again")
            assert daemon.proc.poll() is None and daemon.proc.pid == pid  # the same service

            _task(box, "TASK-002", "hello")
            box.commit_push("a task that runs", "--author", "Becker <becker@example.com>")
            wait_until(lambda: "TASK-002" in (status_doc(state).get("tasks") or {}),
                       timeout=30, what="TASK-002 run")
            wait_until(idle_and_empty(state), timeout=30, what="the daemon idle again")
            log = daemon.stderr()

        reason = next(failed.glob("*.reason")).read_text()
        assert "stalled: no sign of life for" in reason
        assert f"..{stuck[:12]} are not run" in reason
        assert "stalled" in log and "taskbot starts afresh" in log
        # The stalled task was never ticked; the next one was, by taskbot, on main.
        assert "- [ ] Do it" in box.main_file("tasks/active/TASK-001.md")
        assert "- [x] Do it" in box.main_file("tasks/active/TASK-002.md")
        assert git(box.bare, "log", "-1", "--format=%an", "main") == "taskbot"
        assert not (state / "stalled.json").exists()
        assert list(state.glob("journal.stalled-*.json"))
        said = [p for p in receiver.wait_for(2) if "stalled" in p.message]
        assert said and "failed" in said[0].title


def test_a_stop_does_not_wait_for_an_item_without_sign_of_life(tmp_path: Path) -> None:
    box = installed(tmp_path)
    _with_stall_timeout(box, "8s")  # a stop waits half of it (4 s), then leaves
    state = tmp_path / "state"
    site = _plugin(tmp_path / "site")
    with running_daemon(box.config, tmp_path / "serve.log", PYTHONPATH=str(site)) as daemon:
        _task(box, "TASK-001", "hang")
        box.commit_push("a task whose handler never returns",
                        "--author", "Becker <becker@example.com>")
        wait_until(lambda: bool((status_doc(state).get("in_flight") or {}).get("criterion")),
                   timeout=30, what="the criterion in flight")
        os.kill(daemon.proc.pid, 15)
        code = daemon.proc.wait(timeout=30)
        log = daemon.stderr()
    assert code == 0
    assert "stopping now: the item in flight has shown no sign of life" in log
    journal = json.loads((state / "journal.json").read_text())
    assert journal["item"]["kind"] == "push"  # resumed at the next start
