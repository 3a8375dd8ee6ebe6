"""A queued item (a push, or a task queued again) → runs, commits, reports.

Shared by the daemon (hook and watch mode) and `taskbot run --commit`. One item at a time
per repository; the caller serialises. `stage` takes the item (detection, trust), `task`
runs one task of it, `writeback` commits, integrates and notes, `refusals` reports what is
not run; `places` says where all of it reads and writes. `process` here puts `stage` and
`task` together; inside `bot/` the callers do that themselves and import the modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from bot.config import Config
from bot.pipeline import stage, task
from bot.pipeline.clone import source_repo
from bot.pipeline.items import OnStatus, Processed, Push, Rerun
from bot.pipeline.refusals import REFUSED
from bot.pipeline.stage import watch_target
from bot.pipeline.writeback import repair_notes
from bot.run.context import Handler
from bot.run.journal import Journal
from bot.state.memory import Memory

__all__ = ["REFUSED", "OnStatus", "Processed", "Push", "Rerun", "process", "repair_notes",
           "source_repo", "watch_target"]


def process(config: Config, handlers: Mapping[str, Handler], item: Push | Rerun, *,
            now: datetime, should_stop: Callable[[], bool] = lambda: False,
            on_status: OnStatus = stage.quiet, journal: Journal | None = None,
            memory: Memory | None = None) -> tuple[Processed, ...]:
    """`stage.process`, each task run by `task.run`."""
    return stage.process(config, handlers, item, run_task=task.run, now=now,
                         should_stop=should_stop, on_status=on_status, journal=journal,
                         memory=memory)
