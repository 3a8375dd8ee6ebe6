"""A run past `limits.run_soft_limit` sends one progress notification: done, in flight, left."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from bot.api import Outcome, Status
from bot.cli import main
from bot.notify.outbox import Outbox
from bot.notify.progress import ProgressWatch
from bot.proc import Redactor
from bot.run.actions import Action
from bot.run.runmodel import CriterionState as State
from bot.run.runmodel import Result
from bot.taskfile import parse
from tests.kit.config import local_config
from tests.kit.receivers import WAIT, HttpReceiver, Post

TASK = b"""\
# TASK-050
## Acceptance Criteria
- [ ] Build it
- [ ] Push it
- [ ] Deploy it
- [ ] Verify it
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _actions() -> list[Action]:
    return [Action(c, "shell", "annotation") for c in parse(TASK, "TASK-050.md").criteria]


def test_message_says_done_in_flight_and_left() -> None:
    clock = Clock()
    build, push, deploy, verify = _actions()
    watch = ProgressWatch("TASK-050", 1800, send=None, redact=Redactor(("s3cret",)), clock=clock)
    run = watch.observer()
    run.on_run("TASK-050", (build, push, deploy, verify))
    run.on_start("TASK-050", build, 1)
    run.on_end("TASK-050", Result(build, State.DONE, Outcome(Status.DONE), 1), 1.0)
    run.on_start("TASK-050", push, 1)
    run.on_start("TASK-050", push, 2)
    run.on_end("TASK-050", Result(push, State.FAILED,
                                  Outcome(Status.FAILED, "registry said no"), 2), 1.0)
    clock.now += 1500
    run.on_start("TASK-050", deploy, 1)
    clock.now += 400
    title, body = watch.message()
    assert title == "TASK-050 still running after 31m40s: 1 done, 1 in flight, 1 left"
    assert body.splitlines() == [
        "# Task Progress: TASK-050",
        "Still running after 31m40s (soft limit 30m).",
        "## Done So Far",
        "- ✅ Build it",
        "- ❌ Push it (failed: registry said no)",
        "## In Flight",
        "- ⏳ Deploy it (attempt 1, for 6m40s)",
        "## Left",
        "- Verify it",
    ]


def test_fires_once_past_the_limit_and_never_before() -> None:
    sent: queue.Queue[tuple[str, str]] = queue.Queue()
    with ProgressWatch("TASK-050", 0.01, send=lambda t, b: sent.put((t, b))) as w:
        title, _ = sent.get(timeout=WAIT)
    assert title.startswith("TASK-050 still running after ") and w.sent
    assert sent.empty()
    quiet: queue.Queue[tuple[str, str]] = queue.Queue()
    with ProgressWatch("TASK-050", 3600, send=lambda t, b: quiet.put((t, b))) as w:
        pass  # the run ended before the limit: the timer is cancelled
    assert quiet.empty() and not w.sent


def test_inert_without_a_sender() -> None:
    watch = ProgressWatch("TASK-050", 0, send=None)
    watch.observer().on_run("TASK-050", _actions())  # it hears the run; it wraps nothing of it
    with watch:
        pass
    assert not watch.sent


RUN_TASK = """\
# TASK-050
## Acceptance Criteria
- [ ] First <!-- taskbot: shell project=demo cmd="true" -->
- [ ] Waits <!-- taskbot: shell project=demo \
cmd="sh -c 'while [ ! -e released ]; do sleep 0.01; done'" -->
- [ ] Last <!-- taskbot: shell project=demo cmd="true" -->
- [ ] Ask a person
"""


@pytest.mark.integration
def test_run_past_soft_limit_sends_one_progress_notification(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()

    def release_on_progress(post: Post) -> None:
        if post.doc.get("type") == "info":
            (demo / "released").touch()  # the waiting criterion ends once progress arrived

    (tmp_path / "TASK-050.md").write_text(RUN_TASK)
    with HttpReceiver(on_post=release_on_progress) as http:
        cfg = local_config(tmp_path, {
            "limits": {"command_timeout": "10s", "run_soft_limit": "300ms"},
            "notify": {"urls": [http.url()]}})
        code = main(["--config", str(cfg), "run", str(tmp_path / "TASK-050.md")])
        progress, final = http.wait_for(2)
    assert code == 0 and capsys.readouterr().err == ""
    assert progress.doc["type"] == "info"
    assert progress.title.startswith("TASK-050 still running after ")
    assert progress.title.endswith(": 1 done, 1 in flight, 1 left")
    assert "## Done So Far\n- ✅ First\n## In Flight\n- ⏳ Waits (attempt 1, for " in progress.message
    assert progress.message.endswith("## Left\n- Last")  # the manual criterion is not run
    assert final.title == "TASK-050 partial: 3/4 criteria done"
    assert len(http.posts) == 2
    assert Outbox(tmp_path / "state").pending() == ()
