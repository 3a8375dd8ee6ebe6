"""Task files: bytes → `Task` (`parse`), and `Edit` → bytes (`edit`), byte-exact."""

from bot.taskfile.edit import Applied, Edit, apply, write
from bot.taskfile.parse import (
    MAX_BYTES,
    Criterion,
    Section,
    Task,
    load,
    normalise,
    occurrences,
    parse,
    read,
)
from bot.taskfile.status import COMPLETED_DIR, in_completed_folder, is_complete

__all__ = [
    "COMPLETED_DIR",
    "MAX_BYTES",
    "Applied",
    "Criterion",
    "Edit",
    "Section",
    "Task",
    "apply",
    "in_completed_folder",
    "is_complete",
    "load",
    "normalise",
    "occurrences",
    "parse",
    "read",
    "write",
]
