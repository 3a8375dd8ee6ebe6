"""Task files: bytes → `Task` (`parse`), and `Edit` → bytes (`edit`), byte-exact."""

from bot.taskfile.edit import Applied, Edit, apply, write
from bot.taskfile.parse import MAX_BYTES, Criterion, Section, Task, load, normalise, parse, read

__all__ = [
    "MAX_BYTES",
    "Applied",
    "Criterion",
    "Edit",
    "Section",
    "Task",
    "apply",
    "load",
    "normalise",
    "parse",
    "read",
    "write",
]
