"""Notifications: targets and routing (`targets`), the durable outbox, stored reports.

Its modules import apprise on first use; this one imports nothing of theirs until asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.redact import Redactor

if TYPE_CHECKING:
    from bot.config import Config


def _url_secrets(config: Config) -> tuple[str, ...]:
    from bot.notify.targets import secrets  # noqa: PLC0415 -- `plan` never needs it

    return secrets(config.notify)


def redactor(config: Config, *, lazy: bool = False) -> Redactor:
    """Everything secret the configuration knows: `*_file` values and notify URL secrets.

    `lazy`: the notify URL secrets are found on the first redaction (finding them imports
    apprise), for a command that may never redact (`plan`); a broken apprise config file
    then fails there instead of here."""
    if lazy:
        return Redactor(config.secrets(), lambda: _url_secrets(config))
    return Redactor(config.secrets() + _url_secrets(config))
