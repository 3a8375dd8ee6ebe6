"""A command's output cut to what a record keeps: the end of a stream, the last lines,
each line clipped. Bytes beyond a cap are dropped from the front, and with them the
fragment of a line the cut left (it may be part of a secret the redactor would miss)."""

from __future__ import annotations

__all__ = ["MAX_LINE", "TAIL_LINES", "Tail", "clip", "keep_end", "last_line", "tail"]

TAIL_LINES = 20
MAX_LINE = 1000  # characters of one output line kept in a record


class Tail:
    """The last `cap` bytes of a stream."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.trimmed = False

    def append(self, data: bytes) -> None:
        self.data += data
        if len(self.data) > self.cap:
            del self.data[: len(self.data) - self.cap]
            self.trimmed = True

    def text(self) -> str:
        data = bytes(self.data)
        if self.trimmed:
            # the first line is a fragment (perhaps of a secret the redactor would miss)
            data = data[data.find(b"\n") + 1 :]
        return data.decode("utf-8", errors="replace")


def clip(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …"


def tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(clip(line.rstrip()) for line in kept)


def keep_end(text: str, cap: int) -> str:
    """The last `cap` bytes of `text`, from the first line that starts inside them."""
    data = text.encode("utf-8")
    if len(data) <= cap:
        return text
    data = data[len(data) - cap :]
    return data[data.find(b"\n") + 1 :].decode("utf-8", errors="replace")


def last_line(*texts: str) -> str:
    """The last non-empty line of the first text that has one, stripped and clipped."""
    for text in texts:
        for line in reversed(text.splitlines()):
            if line.strip():
                return clip(line.strip())
    return ""
