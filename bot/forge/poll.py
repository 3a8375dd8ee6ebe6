"""Polling the forge as the backstop for lost webhooks: `git ls-remote` every `repo.poll`.

Only the branch's tip is asked for; when it differs from the last one seen, a wake-up
goes to the spool (the daemon then fetches and computes the range itself). A forge that
cannot be reached is asked again with backoff (the interval doubled per failure, at most
ten times it) and said so in the daemon's status; it never stops the daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.errors import TaskbotError
from bot.forge import remote

ZERO = "0" * 40
MAX_BACKOFF = 10  # × the poll interval
# The poll runs in the daemon's loop: a forge that stalls mid-answer must count as not
# reachable well before systemd's watchdog (3 × its 30 s ping) takes the loop for hung.
ASK_TIMEOUT = 20.0


@dataclass(frozen=True)
class PollState:
    """What `taskbot status` shows of the forge."""

    reachable: bool
    checked: float  # epoch seconds of the last answer or failure
    error: str = ""


class Poller:
    """One instance per daemon; its fields are the daemon's own memory of the forge."""

    def __init__(self, config: Config, state_dir: Path, enqueue: Callable[[Iterable[str]], object],
                 log: Callable[[str], None], last_tip: str = "") -> None:
        self._remote = remote.from_config(config)
        self._branch = config.repo.branch
        self._interval = config.repo.poll
        self._state_dir = state_dir
        self._enqueue = enqueue
        self._log = log
        self._seen = last_tip
        self._failures = 0
        self._next = time.monotonic()  # the first check at once: catch up after downtime
        self.state = PollState(True, 0.0)

    def due_in(self) -> float:
        return max(self._next - time.monotonic(), 0.0)

    def poll_if_due(self) -> None:
        if time.monotonic() < self._next:
            return
        try:
            tip = remote.remote_tip(self._remote, self._state_dir, self._branch,
                                    timeout=ASK_TIMEOUT)
        except (TaskbotError, OSError) as exc:
            self._failed(str(exc))
            return
        if self._failures:
            self._log(f"forge reachable again: {self._redacted(self._remote.url)}")
        self._failures = 0
        self._next = time.monotonic() + self._interval
        self.state = PollState(True, time.time())
        if tip and tip != self._seen:
            self._seen = tip
            self._enqueue([f"{ZERO} {tip} refs/heads/{self._branch}"])
            self._log(f"poll: {self._branch} is at {tip[:12]} on the forge: queued")

    def reached(self, processed: str = "") -> None:
        """The daemon fetched from the forge itself (a webhook's wake-up) and processed the
        branch up to `processed`: the forge answers, and the next poll need not wake the
        daemon again for what it just did, nor ask before another interval."""
        if self._failures or not self.state.reachable:
            self._log(f"forge reachable again: {self._redacted(self._remote.url)}")
        self._failures = 0
        self._seen = processed or self._seen
        self._next = time.monotonic() + self._interval
        self.state = PollState(True, time.time())

    def _failed(self, error: str) -> None:
        self._failures += 1
        wait = self._interval * min(2 ** (self._failures - 1), MAX_BACKOFF)
        self._next = time.monotonic() + wait
        self.state = PollState(False, time.time(), error)
        self._log(f"forge not reachable ({error}); asked again in {wait:.0f}s")

    @staticmethod
    def _redacted(url: str) -> str:
        return url.split("@", 1)[-1] if "://" in url and "@" in url else url
