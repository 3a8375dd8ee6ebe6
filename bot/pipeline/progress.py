"""The progress notification of a task run in the pipeline (daemon, watch mode, forge,
`run --commit`): sent once past `limits.run_soft_limit`, as `taskbot run` sends it.

The watch (`bot.notify.progress`) hears the run's events beside whoever watches already
(the daemon's status). The journal records that it went out before it is handed to the
outbox, so a run resumed after a kill never sends a second one: at most one per run. A
resumed run counts from when it began (`since`), not from the restart: a daemon restarted
more often than the soft limit still says that a long run is long.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from bot.config import Config
from bot.notify import progress
from bot.notify import targets as notify
from bot.run import observe
from bot.run.context import Context
from bot.run.journal import TaskJournal
from bot.run.runmodel import JournalStep

__all__ = ["watched"]


@contextlib.contextmanager
def watched(config: Config, ctx: Context, tj: TaskJournal | None,
            since: datetime | None = None) -> Iterator[None]:
    """The run inside is watched; past the soft limit (counted from `since`, when a resumed
    run began), one notification (none configured, or one sent already for this run:
    nothing)."""
    if not notify.configured(config.notify) or (tj is not None and tj.step(
            JournalStep.PROGRESS)):
        yield
        return
    send = progress.outbox_sender(config, ctx.run_id)

    def once(title: str, body: str) -> None:
        if tj is not None:
            tj.record(JournalStep.PROGRESS)
        send(title, body)

    before = (datetime.now(since.tzinfo) - since).total_seconds() if since else 0.0
    watch = progress.watch(ctx, once, before)
    here = observe.current()
    both = watch.observer() if here is None else observe.fanout(here, watch.observer())
    with watch, observe.watching(both):
        yield
