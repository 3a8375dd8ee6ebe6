"""What `taskbot run` shows on a terminal while it works: one status line, rewritten in place.

The criterion in flight, its elapsed time and the last line its command printed, refreshed
about four times a second from a thread; the line is cleared before the report is printed.
With groups side by side (`limits.parallel`), every criterion in flight, each with its
time, then the last line any of them printed. Nothing at all when stdout is not a
terminal (a pipe, a file, `--json`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

from bot.run.actions import Action
from bot.run.observe import Observer
from bot.run.runner import Result
from bot.text import terminal
from bot.text.durations import elapsed_text

__all__ = ["LiveLine", "elapsed_text", "wanted"]

REFRESH = 0.25  # seconds between redraws
_CLEAR = "\r\x1b[K"


def wanted(stream: TextIO, *, as_json: bool) -> bool:
    try:
        return not as_json and stream.isatty()
    except (AttributeError, ValueError):
        return False


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


class LiveLine:
    """The status line; a context manager that starts and stops its redraw thread."""

    def __init__(self, stream: TextIO = sys.stdout, refresh: float = REFRESH) -> None:
        self._stream = stream
        self._refresh = refresh
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: dict[int, tuple[str, int, float]] = {}  # index → text, attempt, since
        self._output = ""
        self._shown = False

    def observer(self) -> Observer:
        return Observer(on_start=self._started, on_end=self._ended,
                        on_command=self._command, on_output=self._line)

    def _started(self, task_id: str, action: Action, attempt: int) -> None:
        with self._lock:
            self._running[action.criterion.index] = (action.criterion.text, attempt,
                                                     time.monotonic())
            self._output = ""

    def _ended(self, task_id: str, result: Result, seconds: float) -> None:
        with self._lock:
            self._running.pop(result.action.criterion.index, None)
            self._output = ""

    def _command(self, argv: Sequence[str]) -> None:
        with self._lock:
            self._output = "$ " + " ".join(argv)

    def _line(self, line: str) -> None:
        with self._lock:
            self._output = line

    def text(self) -> str:
        """The status line as it is now ('' between criteria)."""
        with self._lock:
            if not self._running:
                return ""
            now = time.monotonic()
            each = [f"{text}{f' (attempt {n})' if n > 1 else ''} — {elapsed_text(now - since)}"
                    for _, (text, n, since) in sorted(self._running.items())]
            head = (f"▶ {each[0]}" if len(each) == 1
                    else f"▶ {len(each)} in flight: " + " · ".join(each))
            return _printable(f"{head} │ {self._output}" if self._output else head)

    def _draw(self) -> None:
        width = max(terminal.columns() - 1, 20)
        line = self.text()[:width]
        if not line and not self._shown:
            return
        self._stream.write(_CLEAR + line)
        self._stream.flush()
        self._shown = bool(line)

    def _loop(self) -> None:
        while not self._stop.wait(self._refresh):
            try:
                self._draw()
            except (OSError, ValueError):
                return

    def __enter__(self) -> LiveLine:
        self._thread = threading.Thread(target=self._loop, name="taskbot-live", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            try:
                self._stream.write(_CLEAR)
                self._stream.flush()
            except (OSError, ValueError):
                pass
