"""An item the stall guard gave up on: recorded before the daemon starts afresh, set aside
by the daemon that starts next.

`state_dir/stalled.json` names the spool entry and line that were in flight and why they
were given up. The next daemon finds it before it resumes or takes anything: the line goes
to `queue/failed/` with the reason, the item's journal is set aside so it is not resumed
(for a push, the record of the last processed commit moves past its range: those commits
are not run again), and a notification says what was not run. Then the daemon goes on.
Without this, the same input would hold every daemon that starts, for good.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from bot.atomic import write_atomic
from bot.state.statedir import STALLED, read_owned

__all__ = ["Stalled", "clear", "load", "record"]



class Stalled(NamedTuple):
    entry: str  # the spool entry's name; "" when it was the resumed item of a killed daemon
    line: str  # the spool line in flight
    why: str  # one line: how long it was quiet, and doing what
    work: Mapping[str, Any] = {}  # the journal's item (a push's range), when it had begun


def record(state_dir: Path, stalled: Stalled) -> None:
    doc = {**stalled._asdict(), "work": dict(stalled.work)}
    write_atomic(state_dir / STALLED, json.dumps(doc).encode(), 0o644)


def load(state_dir: Path) -> Stalled | None:
    """The record, or None; one that cannot be read says only that something stalled."""
    try:
        data = json.loads(read_owned(state_dir / STALLED))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return Stalled("", "", "an item stalled (its record is unreadable)")
    if not isinstance(data, dict):
        return Stalled("", "", "an item stalled (its record is unreadable)")
    work = data.get("work")
    return Stalled(str(data.get("entry", "")), str(data.get("line", "")),
                   str(data.get("why", "")), work if isinstance(work, dict) else {})


def clear(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STALLED).unlink()
