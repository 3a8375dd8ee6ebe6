"""Writing a file so that readers see the old content or the new one, never a part of it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from bot.text.tempname import stem


def write_atomic(path: Path | str, data: bytes, mode: int = 0o600, *,
                 tmp_dir: Path | str | None = None) -> os.stat_result:
    """Temp file, fsync, rename over `path`, fsync the directory; the one way taskbot does it.

    The temp file goes beside `path`, or in `tmp_dir` (same file system) for a directory
    whose readers must never see a stray name, such as the spool. Returns the written
    file's stat, taken before the rename: a writer that sees it still there knows nobody
    replaced the file since.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or target.parent, prefix=f".{stem(target.name)}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
            written = os.fstat(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return written
