"""The pipeline's progress notification (`bot.pipeline.progress`): watched beside whoever
watches already, and never a second time for a run resumed after a kill (the journal says
it went out)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bot.config import Config
from bot.pipeline import progress
from bot.run import observe
from bot.run.context import Context
from bot.run.journal import Journal
from bot.run.runmodel import JournalStep
from tests.kit.context import make_ctx
from tests.kit.receivers import HttpReceiver


def _setup(tmp_path: Path, urls: list[str]) -> tuple[Config, Context, Journal]:
    state = tmp_path / "state"
    state.mkdir()
    ctx = make_ctx({"repo": {"state_dir": str(state)}, "notify": {"urls": urls}}, tmp_path)
    return ctx.config, ctx, Journal.begin(state, {"kind": "rerun", "task": "T"})


def test_a_run_is_watched_beside_the_daemons_observer(tmp_path: Path) -> None:
    config, ctx, journal = _setup(tmp_path, ["json://127.0.0.1:9/hook"])
    seen: list[str] = []
    daemon = observe.Observer(on_run=lambda task, actions: seen.append(task))
    with observe.watching(daemon), progress.watched(config, ctx, journal.task("T.md")):
        assert observe.current() is not daemon  # a fan-out: the daemon's and the watch
        observe.running("TASK-009", ())
    assert seen == ["TASK-009"]


def test_no_second_notification_for_a_resumed_run(tmp_path: Path) -> None:
    config, ctx, journal = _setup(tmp_path, ["json://127.0.0.1:9/hook"])
    tj = journal.task("T.md")
    tj.record(JournalStep.PROGRESS)
    with progress.watched(config, ctx, tj):
        assert observe.current() is None


def test_nothing_watched_without_a_notification_target(tmp_path: Path) -> None:
    config, ctx, journal = _setup(tmp_path, [])
    with progress.watched(config, ctx, journal.task("T.md")):
        assert observe.current() is None


def test_a_resumed_run_counts_the_time_it_ran_before_the_kill(tmp_path: Path) -> None:
    """Killed 20 minutes into a run with a 30-minute soft limit, resumed: the notification
    comes 10 minutes later, not 30 (a daemon restarted often would never send one)."""
    with HttpReceiver() as receiver:
        state = tmp_path / "state"
        state.mkdir()
        ctx = make_ctx({"repo": {"state_dir": str(state)},
                        "notify": {"urls": [receiver.url()]},
                        "limits": {"run_soft_limit": "30m"}}, tmp_path)
        tj = Journal.begin(state, {"kind": "rerun", "task": "T"}).task("T.md")
        began = datetime.now().astimezone() - timedelta(minutes=31)
        with progress.watched(ctx.config, ctx, tj, since=began):
            [sent] = receiver.wait_for(1)
    assert sent.title.startswith("TASK-009 still running after 31m")
    assert tj.step(JournalStep.PROGRESS)
