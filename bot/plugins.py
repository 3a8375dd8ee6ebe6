"""Finds handlers: every entry point in the `taskbot.handlers` group, built-in or not."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

from bot.api import Handler
from bot.errors import ConfigError

GROUP = "taskbot.handlers"


def load_handlers() -> Mapping[str, Handler]:
    found: dict[str, Handler] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            handler = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            raise ConfigError(f"handler plugin {ep.value!r} failed to load: {exc}") from exc
        for attr in ("name", "params", "rules", "settings", "plan", "run"):
            if not hasattr(handler, attr):
                raise ConfigError(f"handler plugin {ep.value!r} has no {attr!r}: not a taskbot handler")
        found[handler.name] = handler
    return MappingProxyType(found)
