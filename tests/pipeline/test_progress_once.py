"""The pipeline's progress notification (`bot.pipeline.progress`): watched beside whoever
watches already, and never a second time for a run resumed after a kill (the journal says
it went out)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.pipeline import progress
from bot.run import observe
from bot.run.context import Context
from bot.run.journal import Journal
from bot.run.runmodel import JournalStep
from tests.kit.context import make_ctx


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
