"""The name of a temp file written beside a file, to be renamed over it.

A pushed task file may be named with 255 bytes, the most a file system takes: a temp
name that holds it whole (`.NAME.xxxxxxxx.tmp`) is too long, and the run could not write
its ticks (`File name too long`) after its commands ran. The name is cut to leave room.
"""

from __future__ import annotations

import os

__all__ = ["stem"]

_ROOM = 200  # bytes of the name kept: 255 (NAME_MAX) less a dot, the random part, `.tmp`


def stem(name: str) -> str:
    """`name`, cut to at most 200 bytes (a character cut in two stays bytes: a temp name
    is never shown)."""
    return os.fsdecode(os.fsencode(name)[:_ROOM])
