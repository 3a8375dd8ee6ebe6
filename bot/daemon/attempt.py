"""One item's work, run so that whatever it does the daemon goes on."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.daemon.logline import ERR, WARNING, log
from bot.forge.remote import ForgeUnreachable
from bot.pipeline.items import Processed

__all__ = ["DISK_FULL_PAUSE", "Attempt", "attempt"]

DISK_FULL_PAUSE = 10.0  # seconds between tries while the state dir's file system is full


@dataclass(frozen=True)
class Attempt:
    results: Sequence[Processed] | None  # None: it raised
    paused: bool = False  # it waits for room or for the forge: retried, not failed
    error: str = ""  # why it failed, when it did


def attempt(what: str, work: Callable[[], Sequence[Processed]], state_dir: Path) -> Attempt:
    """A full disk or a forge that does not answer leaves the item where it is, to be
    resumed (its journal says how far it got) once there is room again, or the forge
    answers; any other failure is the item's."""
    try:
        return Attempt(work())
    except ForgeUnreachable as exc:
        log(f"{what}: {exc}; retried in {DISK_FULL_PAUSE:.0f}s", WARNING)
        return Attempt(None, paused=True)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log(f"{what}: no space left in {state_dir}: {exc}; retried in "
                f"{DISK_FULL_PAUSE:.0f}s, nothing queued is lost", ERR)
            return Attempt(None, paused=True)
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one bad item must not stop the daemon
        error = f"{type(exc).__name__}: {exc}"
    log(f"{what} failed: {error}", ERR)
    return Attempt(None, error=error)
