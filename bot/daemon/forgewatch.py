"""Remote mode in the daemon: the webhook listener and the poller, both only waking it up.

A webhook's push and a poll that sees a new tip each write one wake-up line to the spool;
the daemon then fetches and processes its own range (`bot.daemon.backend`). Nothing a
forge sends is trusted beyond "look now".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.daemon import spool, tip
from bot.forge import webhook
from bot.forge.poll import Poller
from bot.state.statedir import WEBHOOK_DELIVERIES

Log = Callable[[str], None]


class ForgeWatch:
    """The daemon's ears for a forge: `start` before the loop, `stop` after it."""

    def __init__(self, config: Config, state_dir: Path, log: Log) -> None:
        self._config = config
        self._state_dir = state_dir
        self._log = log
        self._server: webhook.WebhookServer | None = None
        self._ref = f"refs/heads/{config.repo.branch}"
        self.poller = Poller(config, state_dir, self._enqueue, log,
                             tip.load(state_dir, self._ref) or "") if config.repo.poll else None

    def _enqueue(self, lines: Iterable[str]) -> None:
        spool.enqueue(self._state_dir, list(lines))

    def start(self) -> None:
        hook = self._config.webhook
        if hook is None:
            return
        host, port = hook.address
        settings = webhook.Settings(host, port, webhook.read_secret(hook.secret_file),
                                    f"refs/heads/{self._config.repo.branch}", path=hook.path)
        self._server = webhook.start(
            settings, enqueue=self._enqueue,
            seen=webhook.DeliveryLog(self._state_dir / WEBHOOK_DELIVERIES), log=self._log)
        self._log(f"webhook: listening on {self._server.url}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def poll_if_due(self) -> None:
        if self.poller is not None:
            self.poller.poll_if_due()

    def reached(self) -> None:
        if self.poller is not None:
            self.poller.reached(tip.load(self._state_dir, self._ref) or "")

    def due_in(self) -> float | None:
        return self.poller.due_in() if self.poller is not None else None

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"remote": self._config.repo.remote,
                               "webhook": self._server.url if self._server else None}
        if self.poller is not None:
            s = self.poller.state
            doc.update({"reachable": s.reachable, "checked": s.checked, "error": s.error})
        return doc
