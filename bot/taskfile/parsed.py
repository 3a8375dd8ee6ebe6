"""`Parsed`: a task file as `parse` read it, its text and lines kept, for the modules that
edit, follow and merge it without parsing it again."""

from __future__ import annotations

from typing import NamedTuple

from bot.taskfile.frontmatter import Frontmatter
from bot.taskfile.model import Section, Task
from bot.taskfile.source import Line

__all__ = ["Parsed"]


class Parsed(NamedTuple):
    task: Task
    text: str
    lines: tuple[Line, ...]
    bom: bool
    fm: Frontmatter | None
    log_sections: tuple[Section, ...]
