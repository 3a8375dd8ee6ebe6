"""The record of taskbot's own commits: `state_dir/own-commits`, one sha a line.

taskbot's commits are recognised only by this record, which taskbot writes the moment
it makes a commit and which nobody else can write (the state dir is the service user's
alone). Author, e-mail and message text prove nothing: anyone can forge them. When the
state dir is lost, so is the recognition: taskbot's earlier commits are then judged like
anyone's.

The record only grows (appends), so a process reads it whole once and then only what was
appended since: `load` keeps, per file, in the process's `Memory` (`memory.own_commits`;
without one it reads the whole record), what it read, keyed by the file's device and inode,
the offset after the last whole line, and the first and last lines' bytes. A file
replaced, truncated or rewritten (another inode, a smaller size, other bytes where the
first or the last line read was) is read whole again. Only taskbot's user can write the
record, and taskbot only appends: these checks catch a restore or a hand edit, not an
adversary. Every load checks the open file's owner, as before.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.state.memory import Memory, RecordRead
from bot.state.statedir import OWN_COMMITS, open_owned, owned

__all__ = ["load", "record"]

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


def load(state_dir: Path | str, memory: Memory | None = None) -> frozenset[str]:
    """Every recorded sha; a torn last line (a crash mid-write) is left out. `memory`: the
    process's, where the record as read is kept, so each load costs what was appended since
    the last (not the whole record on every push); dropping it changes no answer."""
    path = _path(state_dir)
    key = os.path.abspath(path)
    try:
        fd = open_owned(path)  # checked on the open file, no link followed
    except OSError as exc:
        if memory is not None:
            with memory.own_commits.lock:
                memory.own_commits.items.pop(key, None)
        if isinstance(exc, FileNotFoundError):
            return frozenset()
        raise
    try:
        info = os.fstat(fd)
        if memory is None:
            return _read(fd, info, None).shas
        seen = memory.own_commits
        with seen.lock:
            read = _read(fd, info, seen.items.get(key))
            seen.items[key] = read
        return read.shas
    finally:
        os.close(fd)


def _read(fd: int, info: os.stat_result, before: RecordRead | None) -> RecordRead:
    """The record after reading what `before` did not: all of it when the file is not the
    one `before` read, or not as `before` left it."""
    if before is None or not _continues(fd, info, before):
        before = RecordRead(info.st_dev, info.st_ino, 0, b"", b"", frozenset())
    tail = _pread_all(fd, before.offset, info.st_size - before.offset)
    whole = tail[: tail.rfind(b"\n") + 1]  # a torn last line waits until it is whole
    if not whole:
        return before
    lines = whole[:-1].split(b"\n")
    new = {s for s in (line.decode("ascii", errors="replace") for line in lines)
           if _SHA_RE.fullmatch(s)}
    return RecordRead(info.st_dev, info.st_ino, before.offset + len(whole),
                 before.first_line or lines[0] + b"\n", lines[-1] + b"\n",
                 before.shas | new if new - before.shas else before.shas)


def _continues(fd: int, info: os.stat_result, before: RecordRead) -> bool:
    """Whether the open file is the one `before` read, grown only by appends since."""
    if (info.st_dev, info.st_ino) != (before.device, before.inode):
        return False
    if info.st_size < before.offset:
        return False
    start = before.offset - len(before.last_line)
    return (os.pread(fd, len(before.first_line), 0) == before.first_line
            and os.pread(fd, len(before.last_line), start) == before.last_line)


def _pread_all(fd: int, offset: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.pread(fd, min(size, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)
