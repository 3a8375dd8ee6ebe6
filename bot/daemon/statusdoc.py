"""The daemon's status document: what status.json says of the daemon, its queue and the
item in flight (the task table is added by `statusfile.StatusWriter`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["DaemonState", "document", "iso", "now"]


def now() -> datetime:
    return datetime.now().astimezone()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class DaemonState:
    """The daemon's part of the document, as it is at one write."""

    started: datetime
    mode: str  # hook, watch or remote
    state: str  # starting, idle, running, stopping or stopped
    status: str  # the status line, as systemd is told it too


def document(daemon: DaemonState, *, queue_length: int, failed: int,
             in_flight: Mapping[str, Any] | None,
             forge: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """status.json without its task table."""
    return {
        "version": 1,
        "updated": iso(now()),
        "daemon": {"pid": os.getpid(), "started": iso(daemon.started), "mode": daemon.mode,
                   "state": daemon.state, "status": daemon.status},
        "queue_length": queue_length,
        "failed": failed,
        "in_flight": in_flight,
        **({"forge": forge} if forge is not None else {}),
    }
