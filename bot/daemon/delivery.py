"""The notification outbox as the daemon drives it: failures are logged, never stop it."""

from __future__ import annotations

import time
from pathlib import Path

from bot.config import NotifyConfig
from bot.daemon.logline import ERR, WARNING, log
from bot.notify.outbox import Outbox

__all__ = ["MAX_SLEEP", "Delivery"]

MAX_SLEEP = 24 * 3600.0


class Delivery:
    def __init__(self, notify: NotifyConfig, state_dir: Path) -> None:
        self._box = Outbox(state_dir, notify)

    def deliver_due(self) -> None:
        try:
            result = self._box.deliver_due(time.time())
        except Exception as exc:
            log(f"outbox: delivery failed: {type(exc).__name__}: {exc}", ERR)
            return
        for entry in result.delivered:
            log(f"notification sent: {entry.message.title}")
        for entry in result.failed:
            log(f"notification not sent yet ({entry.attempts} attempts): {entry.message.title}: "
                f"{entry.last_error}", WARNING)

    def seconds_to_next(self) -> float | None:
        try:
            due = self._box.next_due()
        except Exception as exc:
            log(f"outbox: cannot tell the next delivery: {type(exc).__name__}: {exc}", WARNING)
            return 60.0
        return None if due is None else min(max(due - time.time(), 0.0), MAX_SLEEP)
