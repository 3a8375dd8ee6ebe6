"""Task files: bytes → `Task` (`parse`), and `Edit` → bytes (`edit`), byte-exact.

The editing half loads on first use: `plan` and the lookups only read.
"""

import importlib
from typing import TYPE_CHECKING, Any

from bot.taskfile.limits import MAX_BYTES
from bot.taskfile.model import Criterion, Section, Task, normalise, occurrences
from bot.taskfile.parse import load, parse
from bot.taskfile.source import read
from bot.taskfile.status import COMPLETED_DIR, in_completed_folder, is_complete
from bot.taskfile.tick import Tick, ticks_for

if TYPE_CHECKING:
    from bot.taskfile.edit import Applied, Edit, apply, write
else:
    def __getattr__(name: str) -> Any:
        if name not in ("Applied", "Edit", "apply", "write"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module("bot.taskfile.edit"), name)
        globals()[name] = value
        return value

__all__ = [
    "COMPLETED_DIR",
    "MAX_BYTES",
    "Applied",
    "Criterion",
    "Edit",
    "Section",
    "Task",
    "Tick",
    "apply",
    "in_completed_folder",
    "is_complete",
    "load",
    "normalise",
    "occurrences",
    "parse",
    "read",
    "ticks_for",
    "write",
]
