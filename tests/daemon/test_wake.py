"""What the idle daemon blocks on: inotify (default) and the watchfiles fallback."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.daemon.wake import InotifyWaker, Waker, WatchfilesWaker, WatchLost, make_waker

KINDS: list[Callable[[list[Path]], Waker]] = [InotifyWaker, WatchfilesWaker]


def _later(delay: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(delay, action)
    timer.start()
    return timer


@pytest.mark.parametrize("kind", KINDS, ids=["inotify", "watchfiles"])
def test_a_rename_into_a_watched_dir_wakes_the_waiter(tmp_path: Path,
                                                      kind: Callable[[list[Path]], Waker]) -> None:
    spool, other = tmp_path / "queue", tmp_path / "refs"
    (spool / "tmp").mkdir(parents=True)
    other.mkdir()
    waker = kind([spool, other])
    try:
        (spool / "tmp" / "1-1.push").write_text("x")
        timer = _later(0.05, lambda: os.rename(spool / "tmp" / "1-1.push", spool / "1-1.push"))
        started = time.monotonic()
        waker.wait(10)
        assert time.monotonic() - started < 5
        timer.join()
        _later(0.05, lambda: (other / "main").write_text("sha\n")).join()
        started = time.monotonic()
        waker.wait(10)
        assert time.monotonic() - started < 5
    finally:
        waker.close()


@pytest.mark.parametrize("kind", KINDS, ids=["inotify", "watchfiles"])
def test_wake_and_timeout(tmp_path: Path, kind: Callable[[list[Path]], Waker]) -> None:
    waker = kind([tmp_path])
    try:
        started = time.monotonic()
        waker.wait(0.05)  # (watchfiles may wake early, for its start-up probe: harmless)
        assert time.monotonic() - started < 2
        timer = _later(0.05, waker.wake)
        started = time.monotonic()
        waker.wait(10)
        assert time.monotonic() - started < 5
        timer.join()
    finally:
        waker.close()


def test_inotify_waits_out_its_timeout_when_nothing_happens(tmp_path: Path) -> None:
    waker = InotifyWaker([tmp_path])
    try:
        started = time.monotonic()
        waker.wait(0.05)
        assert 0.04 <= time.monotonic() - started < 2
    finally:
        waker.close()


def test_a_signal_handler_can_wake_the_waiter(tmp_path: Path) -> None:
    waker = make_waker([tmp_path])
    previous = signal.signal(signal.SIGUSR1, lambda *_: waker.wake())
    try:
        timer = _later(0.05, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        started = time.monotonic()
        waker.wait(10)
        assert time.monotonic() - started < 5
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
        waker.close()


def test_a_removed_watched_dir_is_reported(tmp_path: Path) -> None:
    spool = tmp_path / "queue"
    spool.mkdir()
    waker = InotifyWaker([spool])
    try:
        shutil.rmtree(spool)
        with pytest.raises(WatchLost, match="removed or moved"):
            for _ in range(3):
                waker.wait(5)
    finally:
        waker.close()


def test_a_missing_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="inotify_add_watch"):
        InotifyWaker([tmp_path / "nope"])
