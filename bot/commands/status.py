"""`taskbot status`: status.json checked against the spool, the pid and the outbox.

Task ids, titles, criteria and spool lines come from pushes: each line printed has its
control characters and line breaks escaped (`textcap.display_name`), so nothing in them
can move the cursor, retitle the terminal or forge a line of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.daemon import spool as queue
from bot.daemon import statusfile
from bot.notify import outbox
from bot.text.durations import elapsed_text
from bot.text.textcap import display_name

if TYPE_CHECKING:
    import argparse

    from bot.pipeline.items import Processed

__all__ = ["EXIT_NOT_RUNNING", "command", "record_run", "render", "snapshot"]

EXIT_NOT_RUNNING = 3  # as `systemctl status` says it


def _outbox_pending(state_dir: Path) -> list[str]:
    """One line per notification still waiting in the outbox."""
    try:
        return outbox.describe(outbox.Outbox(state_dir).pending())
    except OSError:
        return []


def snapshot(state_dir: Path) -> dict[str, Any]:
    """What `taskbot status --json` prints: status.json checked against the spool and pid."""
    doc = statusfile.read(state_dir)
    pid = statusfile.daemon_running(state_dir)
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
        "forge": doc.get("forge"),
        "updated": doc.get("updated"),
    }


def record_run(state_dir: Path, processed: Processed) -> None:
    """After `run --commit`: the task's entry in status.json says what this run did."""
    if processed.report is None or not state_dir.is_dir():
        return
    entry = statusfile.task_entry(processed.report, processed.commit,
                                  datetime.now().astimezone())
    problem = statusfile.record_task(state_dir, processed.task_id, entry)
    if problem:
        print(f"taskbot: {problem}", file=sys.stderr)


def _elapsed(since: object) -> str:
    try:
        start = datetime.fromisoformat(str(since))
    except ValueError:
        return "?"
    return elapsed_text(max((datetime.now(start.tzinfo) - start).total_seconds(), 0))


def _running_line(flight: Mapping[str, Any]) -> str | None:
    """`running: "<criterion>" — <command> (12s)`, while a criterion runs."""
    if not flight.get("criterion"):
        return None
    command = f" — {flight['command']}" if flight.get("command") else ""
    task = f"{flight['task']}: " if flight.get("task") else ""
    return (f"running: {task}\"{flight['criterion']}\"{command} "
            f"({_elapsed(flight.get('criterion_since') or flight.get('since'))})")


def _running_lines(flight: Mapping[str, Any]) -> list[str]:
    """A line per criterion in flight (groups side by side: `criteria`), then the run's
    progress once several run: done, in flight, left."""
    several = flight.get("criteria")
    if not isinstance(several, list) or len(several) < 2:
        line = _running_line(flight)
        return [line] if line else []
    lines = [line for c in several if isinstance(c, dict) for line in [_running_line(
        {**c, "criterion_since": c.get("since")})] if line]
    counts = flight.get("progress")
    if isinstance(counts, dict):
        lines.append(f"progress: {counts.get('done', 0)} done, {counts.get('in_flight', 0)} "
                     f"in flight, {counts.get('left', 0)} left")
    return lines


def render(snap: Mapping[str, Any]) -> str:
    d = snap["daemon"]
    if d.get("running"):
        head = f"daemon: running (pid {d['pid']}, {d.get('mode', '?')} mode) — {d.get('status', '')}"
    else:
        head = "daemon: not running" + (f" (last seen {snap['updated']})" if snap.get("updated") else "")
    lines = [head, f"state dir: {snap['state_dir']}", *_forge_lines(snap.get("forge"))]
    flight = snap.get("in_flight")
    if flight:
        lines.append(f"in flight: {flight.get('item')} since {flight.get('since')}"
                     + (f" — {flight['status']}" if flight.get("status") else ""))
        lines.extend(_running_lines(flight))
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
            lines.extend(f"    waiting for {w}" for w in t.get("waiting_on") or ())
            lines.extend(_approval_lines(t.get("awaiting_approval")))
    else:
        lines.append("no task has run yet")
    return "\n".join(display_name(line) for line in lines)


def _approval_lines(awaiting: object) -> list[str]:
    """A task's criteria waiting for approval: each with its digest and plan, then how."""
    if not isinstance(awaiting, list):
        return []
    lines: list[str] = []
    for a in awaiting:
        if isinstance(a, dict):
            lines.append(f"    waiting for approval: {a.get('criterion')} (plan {a.get('digest')}); "
                         f"approve with `{a.get('approve')}`")
            lines.extend(f"      {p}" for p in a.get("plan") or ())
    return lines


def _forge_lines(forge: Mapping[str, Any] | None) -> list[str]:
    """Remote mode: where the tasks live, whether the forge answered the last poll."""
    if not forge:
        return []
    lines = [f"forge: {forge.get('remote')}"
             + (f", webhook {forge['webhook']}" if forge.get("webhook") else ", no webhook")]
    if forge.get("reachable") is False:
        lines.append(f"forge NOT reachable at the last poll: {forge.get('error')}")
    return lines


def command(args: argparse.Namespace) -> int:
    """`taskbot status [--json]`; exit 3 when the daemon is not running."""
    import json  # noqa: PLC0415 -- for --json only

    from bot.commands.common import load_config  # noqa: PLC0415 -- as the other commands

    config = load_config(args.config, required=True)
    snap = snapshot(Path(config.repo.state_dir))
    print(json.dumps(snap, indent=2, ensure_ascii=False) if args.json else render(snap))
    return 0 if snap["daemon"]["running"] else EXIT_NOT_RUNNING
