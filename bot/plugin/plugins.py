"""Finds handlers: every entry point in the `taskbot.handlers` group, built-in or not.

A plugin that fails to import, or is not a handler, is left out and named; the others
still load, so one broken third-party package does not stop taskbot. Reading the entry
points is `bot.entrypoints`; this module types what they load as handlers.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from bot.entrypoints import GROUP, EntryPoint, entry_points, loaded, project_settings
from bot.run.context import Handler

__all__ = ["GROUP", "EntryPoint", "Loaded", "discover", "entry_points", "load_handlers",
           "project_settings"]


class Loaded(NamedTuple):
    """The handlers by name, and one line for each plugin that was left out."""

    handlers: Mapping[str, Handler[Any]]
    broken: tuple[str, ...] = ()


def discover() -> Loaded:
    found, broken = loaded()
    return Loaded(MappingProxyType(found), tuple(broken))


def load_handlers() -> Mapping[str, Handler[Any]]:
    """The handlers that loaded; each broken plugin is a warning line on stderr."""
    result = discover()
    for line in result.broken:
        print(f"taskbot: warning: {line}", file=sys.stderr)
    return result.handlers
