"""Finds handlers: every entry point in the `taskbot.handlers` group, built-in or not.

A plugin that fails to import, or is not a handler, is left out and named; the others
still load, so one broken third-party package does not stop taskbot.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from bot.api import Handler

GROUP = "taskbot.handlers"
_MEMBERS = ("name", "params", "rules", "settings", "plan", "run")


@dataclass(frozen=True)
class Loaded:
    """The handlers by name, and one line for each plugin that was left out."""

    handlers: Mapping[str, Handler[Any]]
    broken: tuple[str, ...] = ()


def _load(ep: EntryPoint) -> Handler[Any]:
    """The entry point's handler; ValueError saying why it is not one."""
    try:
        handler: Handler[Any] = ep.load()
    except Exception as exc:  # whatever a third-party import raises
        raise ValueError(f"handler plugin {ep.value!r} failed to load: {exc}") from exc
    for attr in _MEMBERS:
        if not hasattr(handler, attr):
            raise ValueError(f"handler plugin {ep.value!r} has no {attr!r}: not a taskbot handler")
    return handler


def discover() -> Loaded:
    found: dict[str, Handler[Any]] = {}
    broken: list[str] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            handler = _load(ep)
        except ValueError as exc:
            broken.append(str(exc))
            continue
        found[handler.name] = handler
    return Loaded(MappingProxyType(found), tuple(broken))


def load_handlers() -> Mapping[str, Handler[Any]]:
    """The handlers that loaded; each broken plugin is a warning line on stderr."""
    loaded = discover()
    for line in loaded.broken:
        print(f"taskbot: warning: {line}", file=sys.stderr)
    return loaded.handlers
