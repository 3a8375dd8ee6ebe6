"""`<state_dir>/status.json`, written by the daemon (atomically), and the daemon's pid file.

```json
{"version": 1, "updated": "...",
 "daemon": {"pid": 1234, "started": "...", "mode": "hook", "state": "idle", "status": "..."},
 "queue_length": 0, "failed": 0,
 "in_flight": {"entry": "...push", "item": "OLD NEW REF", "since": "...", "status": "..."},
 "tasks": {"TASK-001": {"result": "partial", "title": "Release FFL 0.1.18", "done": "2/4",
                        "time": "...", "commit": "sha", "run_id": "..."}}}
```
`state` is `starting`, `idle`, `running`, `stopping` or `stopped`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.atomic import write_atomic
from bot.statedir import owner, read_owned

__all__ = ["PID_FILE", "STATUS_FILE", "daemon_running", "read", "write"]

STATUS_FILE = "status.json"
PID_FILE = "daemon.pid"


def write(state_dir: Path, doc: Mapping[str, Any]) -> str:
    """Replace status.json atomically; readable by others (`taskbot status` as an operator).

    Returns '' or the problem (a full disk, EIO): a status that cannot be written must not
    stop the daemon; the next write brings it up to date.
    """
    data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        write_atomic(state_dir / STATUS_FILE, data, 0o644)
    except OSError as exc:
        return f"cannot write {state_dir / STATUS_FILE}: {exc.strerror or exc}"
    return ""


def read(state_dir: Path) -> dict[str, Any]:
    """The last status.json, or {} when there is none (or it cannot be read, or is not
    taskbot's own: its content is never trusted then)."""
    try:
        data = json.loads(read_owned(state_dir / STATUS_FILE, owner(state_dir)).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def daemon_running(state_dir: Path) -> int | None:
    """The pid of the live daemon for this state dir, or None."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid
