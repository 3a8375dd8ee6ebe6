"""A task file's source: its bytes read (never through a symlink), decoded, split into lines
exactly as markdown-it sees them; and the refusals, which name the file and the limit passed
(`bot.taskfile.limits`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from typing import NamedTuple

from bot.errors import TaskFileError
from bot.taskfile.limits import LIMITS, MAX_BYTES

__all__ = ["BOM", "DATE_RE", "LINE_BREAK_RE", "Line", "blank", "check_limit", "count_lines",
           "decode", "fail", "line_text", "read", "split_lines"]

BOM = "\ufeff"
# Line breaks exactly as markdown-it sees them (it normalises \r\n and \r to \n).
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Line(NamedTuple):
    start: int  # offset of the first char (in the decoded text, BOM included)
    end: int  # offset just past the content, before the line break
    eol: str  # "\r\n", "\r", "\n" or "" for a last line without one


def split_lines(text: str) -> tuple[Line, ...]:
    lines: list[Line] = []
    pos = 0
    for m in LINE_BREAK_RE.finditer(text):
        lines.append(Line(pos, m.start(), m.group()))
        pos = m.end()
    if pos < len(text):
        lines.append(Line(pos, len(text), ""))
    return tuple(lines)


def count_lines(text: str) -> int:
    """len(split_lines(text)), without building them."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (1 if text and not text.endswith(("\n", "\r")) else 0)


def line_text(text: str, lines: Sequence[Line], n: int) -> str:
    """Line `n` without its line break (and without the BOM, on the first line)."""
    ln = lines[n]
    return text[ln.start + (1 if n == 0 and text.startswith(BOM) else 0) : ln.end]


def blank(line: str) -> bool:
    """Blank as CommonMark has it: spaces and tabs only."""
    return not line.strip(" \t")


def fail(path: str, reason: str) -> TaskFileError:
    return TaskFileError(f"{path}: {' '.join(reason.split())}")


def check_limit(path: str, name: str, count: int) -> None:
    """Refuse the file when `count` passes the limit `name` (`limits.LIMITS`)."""
    reason = LIMITS[name].check(count)
    if reason is not None:
        raise fail(path, reason)


def decode(data: bytes, path: str) -> str:
    if len(data) > MAX_BYTES:
        raise fail(path, f"larger than 1 MiB ({len(data)} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        reason = f"not UTF-8 (invalid byte 0x{data[e.start]:02x} at offset {e.start})"
        raise fail(path, reason) from None
    nul = text.find("\x00")
    if nul >= 0:
        # markdown-it reads NUL as U+FFFD while the line keeps it: the parser's view and
        # the criterion's text would differ, and git refuses NUL in a commit message.
        line = len(LINE_BREAK_RE.findall(text, 0, nul)) + 1
        raise fail(path, f"contains a NUL byte at line {line}")
    return text


def read(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; refuses a symlink, a non-regular file, more than 1 MiB."""
    p = os.fspath(path)
    try:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            raise fail(p, "is a symlink; taskbot never follows or edits symlinks")
        if not stat.S_ISREG(st.st_mode):
            raise fail(p, "is not a regular file")
        if st.st_size > MAX_BYTES:
            raise fail(p, f"larger than 1 MiB ({st.st_size} bytes)")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(p, flags | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise fail(p, "is not a regular file")
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise fail(p, f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise fail(p, "larger than 1 MiB")
    return data
