"""The terminal's width, found as `shutil.get_terminal_size` finds it.

Not through shutil: importing it (with bz2 and lzma) costs ~3 ms, and argparse asks for the
width each time it builds a formatter, so `taskbot plan` would pay for it unprinted."""

from __future__ import annotations

import contextlib
import os
import sys

FALLBACK = 80


def columns() -> int:
    """$COLUMNS, else the terminal on standard output, else 80."""
    with contextlib.suppress(ValueError):
        if int(os.environ.get("COLUMNS", "0")) > 0:
            return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size((sys.__stdout__ or sys.stdout).fileno()).columns or FALLBACK
    except (AttributeError, ValueError, OSError):
        return FALLBACK
