"""`<state_dir>/status.json` (written by the daemon, atomically) and `taskbot status`.

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

from bot import outbox, queue

__all__ = ["STATUS_FILE", "daemon_running", "read", "render", "snapshot", "write"]

STATUS_FILE = "status.json"
PID_FILE = "daemon.pid"


def write(state_dir: Path, doc: Mapping[str, Any]) -> None:
    """Replace status.json atomically (tmp file in the same dir, then rename)."""
    path = state_dir / STATUS_FILE
    tmp = state_dir / f".{STATUS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read(state_dir: Path) -> dict[str, Any]:
    """The last status.json, or {} when there is none (or it cannot be read)."""
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text(encoding="utf-8"))
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


def _outbox_pending(state_dir: Path) -> list[str]:
    """One line per notification still waiting in the outbox."""
    try:
        return outbox.describe(outbox.Outbox(state_dir).pending())
    except OSError:
        return []


def snapshot(state_dir: Path) -> dict[str, Any]:
    """What `taskbot status --json` prints: status.json checked against the spool and pid."""
    doc = read(state_dir)
    pid = daemon_running(state_dir)
    daemon = dict(doc.get("daemon") or {})
    if pid is None:
        daemon["state"] = "stopped"
        doc["in_flight"] = None
    daemon["running"] = pid is not None
    daemon["pid"] = pid
    entries = queue.pending(state_dir)
    in_flight = doc.get("in_flight") or {}
    waiting = [e for e in entries if e.name != in_flight.get("entry")]
    return {
        "state_dir": str(state_dir),
        "daemon": daemon,
        "in_flight": doc.get("in_flight"),
        "queue": [{"entry": e.name, "lines": list(e.lines)} for e in waiting],
        "queue_length": len(waiting),
        "failed": [p.name for p in queue.failed(state_dir)],
        "outbox_pending": _outbox_pending(state_dir),
        "tasks": doc.get("tasks") or {},
        "updated": doc.get("updated"),
    }


def render(snap: Mapping[str, Any]) -> str:
    d = snap["daemon"]
    if d.get("running"):
        head = f"daemon: running (pid {d['pid']}, {d.get('mode', '?')} mode) — {d.get('status', '')}"
    else:
        head = "daemon: not running" + (f" (last seen {snap['updated']})" if snap.get("updated") else "")
    lines = [head, f"state dir: {snap['state_dir']}"]
    flight = snap.get("in_flight")
    if flight:
        lines.append(f"in flight: {flight.get('item')} since {flight.get('since')}"
                     + (f" — {flight['status']}" if flight.get("status") else ""))
    lines.append(f"queue: {snap['queue_length']} waiting")
    lines.extend(f"  {q['entry']}: {'; '.join(q['lines'])}" for q in snap["queue"])
    if snap["failed"]:
        lines.append(f"failed: {len(snap['failed'])} entries in queue/failed/ "
                     "(move one back to queue/ to retry)")
    if snap["outbox_pending"]:
        lines.append(f"notifications waiting: {len(snap['outbox_pending'])}")
        lines.extend(f"  {n}" for n in snap["outbox_pending"])
    tasks: Mapping[str, Mapping[str, Any]] = snap["tasks"]
    if tasks:
        lines.append("last result per task:")
        for task_id in sorted(tasks):
            t = tasks[task_id]
            commit = f" commit {str(t['commit'])[:12]}" if t.get("commit") else ""
            lines.append(f"  {task_id}: {t.get('result')}, {t.get('done', '?')} criteria done — "
                         f"{t.get('title')} ({t.get('time')}){commit}")
    else:
        lines.append("no task has run yet")
    return "\n".join(lines)
