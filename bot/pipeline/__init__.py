"""A queued item (a push, or a task queued again) → runs, commits, reports.

Shared by the daemon (hook and watch mode) and `taskbot run --commit`. One item at a time
per repository; the caller serialises. `stage` takes the item (detection, trust), `task`
runs one task of it, `writeback` commits, integrates and notes, `refusals` reports what is
not run; `places` says where all of it reads and writes.
"""

from __future__ import annotations

from bot.pipeline.clone import source_repo
from bot.pipeline.items import OnStatus, Processed, Push, Rerun
from bot.pipeline.refusals import REFUSED
from bot.pipeline.stage import process, watch_target
from bot.pipeline.writeback import repair_notes

__all__ = ["REFUSED", "OnStatus", "Processed", "Push", "Rerun", "process", "repair_notes",
           "source_repo", "watch_target"]
