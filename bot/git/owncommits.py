"""The record of taskbot's own commits: `state_dir/own-commits`, one sha a line.

taskbot's commits are recognised only by this record, which taskbot writes the moment
it makes a commit and which nobody else can write (the state dir is the service user's
alone). Author, e-mail and message text prove nothing: anyone can forge them. When the
state dir is lost, so is the recognition: taskbot's earlier commits are then judged like
anyone's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.statedir import owned, read_owned

__all__ = ["OWN_COMMITS", "load", "record"]

OWN_COMMITS = "own-commits"
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _path(state_dir: Path | str) -> Path:
    return Path(state_dir) / OWN_COMMITS


def record(state_dir: Path | str, *shas: str) -> None:
    """Append the shas durably (O_APPEND, one fsync) before taskbot pushes or names them."""
    for sha in shas:
        if not _SHA_RE.fullmatch(sha):
            raise ValueError(f"not a commit sha: {sha!r}")
    path = owned(_path(state_dir))  # a file someone else put there is not taskbot's record
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        size = os.fstat(fd).st_size
        # After a torn last line, start a fresh one so this sha is not glued to it.
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        os.write(fd, (b"\n" if torn else b"") + "".join(f"{s}\n" for s in shas).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def load(state_dir: Path | str) -> frozenset[str]:
    """Every recorded sha; a torn last line (a crash mid-write) is left out."""
    path = _path(state_dir)
    try:  # checked on the open file, no link followed
        text = read_owned(path).decode("ascii", errors="replace")
    except FileNotFoundError:
        return frozenset()
    return frozenset(line for line in text.split("\n") if _SHA_RE.fullmatch(line))
