"""The daemon's log: one line per event on stderr, with its syslog priority under journald."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime

from bot.text.textcap import display_name

__all__ = ["DEBUG", "ERR", "INFO", "WARNING", "log"]

ERR, WARNING, INFO, DEBUG = 3, 4, 6, 7  # syslog priorities, as sd-daemon(3) prefixes them


def log(message: str, level: int = INFO) -> None:
    """One line per event on stderr; journald adds its own timestamp.

    Under journald (`JOURNAL_STREAM` set) the line starts with `<N>`, its priority, so
    `journalctl -p err` finds failures. One `write(2)` per line, past Python's buffered
    stream: safe from a signal handler and from the watchdog thread, and lines never
    interleave. Names and criteria in `message` come from pushes: control characters (an
    escape sequence, a carriage return) and undecodable bytes are escaped.
    """
    line = display_name(" ".join(message.splitlines()))
    if not os.environ.get("JOURNAL_STREAM"):
        line = f"{datetime.now().astimezone().isoformat(timespec='milliseconds')} taskbot: {line}"
    else:
        line = f"<{level}>taskbot: {line}"
    with contextlib.suppress(OSError):
        sys.stderr.flush()
        os.write(sys.stderr.fileno(), (line + "\n").encode(errors="replace"))
