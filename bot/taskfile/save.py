"""A task file written back whole: atomically, keeping its mode, never through a symlink.

Apart from reading (`bot.taskfile.source`): an atomic write loads `tempfile`, which a
command that only reads (`plan`) does without.
"""

from __future__ import annotations

import os
import stat

from bot.atomic import write_atomic
from bot.taskfile.source import fail

__all__ = ["write"]


def write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file atomically (temp file in the same directory + rename), keeping its mode."""
    p = os.fspath(path)
    try:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            mode = 0o644
        else:
            if stat.S_ISLNK(st.st_mode):
                raise fail(p, "is a symlink; not written")
            if not stat.S_ISREG(st.st_mode):
                raise fail(p, "is not a regular file; not written")
            mode = stat.S_IMODE(st.st_mode)
        write_atomic(p, data, mode)
    except OSError as e:
        raise fail(p, f"cannot write: {e.strerror or e}") from None
