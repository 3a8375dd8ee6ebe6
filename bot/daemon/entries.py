"""Spool entries as the daemon takes them: repeated lines once, wake-ups a running item
already covers removed, each line named in one short phrase."""

from __future__ import annotations

from collections.abc import Sequence

from bot.daemon import spool as queue
from bot.daemon.logline import WARNING, log

__all__ = ["MAX_ENTRY_LINES", "absorbed", "collapse", "short"]

MAX_ENTRY_LINES = 1000  # distinct lines taken from one spool entry


def short(line: queue.Line) -> str:
    if line.kind == "rerun":
        return f"rerun {line.task_id}"
    return f"push {line.old[:8]}..{line.new[:8]} {line.ref}"


def _pushes(lines: Sequence[str]) -> tuple[frozenset[str], bool]:
    """An entry's push lines, and whether it holds nothing else."""
    pushes: set[str] = set()
    only_pushes = True
    for text in lines:
        try:
            line = queue.parse_line(text)
        except queue.QueueError:
            only_pushes = False
            continue
        if line.kind == "push":
            pushes.add(text)
        else:
            only_pushes = False
    return frozenset(pushes), only_pushes


def absorbed(first: queue.Entry, later: Sequence[queue.Entry]) -> list[queue.Entry]:
    """`later` without the entries that only repeat push lines of `first`: removed.

    A push line is only a wake-up (the range is taskbot's own tip .. the branch as it is
    when the item runs), so the same line already in the spool when `first` starts adds
    nothing to it: a signed webhook replayed with its delivery id changed or left out
    costs one fetch, not one each. A kill after the removal loses nothing: `first` is
    still in the spool."""
    pushes, _ = _pushes(first.lines)
    kept: list[queue.Entry] = []
    for entry in later:
        theirs, only_pushes = _pushes(entry.lines)
        if only_pushes and theirs and theirs <= pushes:
            queue.done(entry)
        else:
            kept.append(entry)
    return kept


def collapse(entry: queue.Entry, branch: str) -> queue.Entry:
    """Anyone who can push can write the spool: lines that say the same (push lines are
    only wake-ups, one per ref is enough; a rerun of the same task) are taken once, and
    an entry keeps at most MAX_ENTRY_LINES of them, `branch`'s wake-up first."""
    kept: list[str] = []
    seen: set[tuple[str, str]] = set()
    for text in entry.lines:
        try:
            line = queue.parse_line(text)
        except queue.QueueError:
            key = ("bad", text)
        else:
            key = ("push", line.ref) if line.kind == "push" else ("rerun", line.task_id.lower())
        if key not in seen:
            seen.add(key)
            kept.append(text)
    suffix = f" refs/heads/{branch}"
    kept.sort(key=lambda t: not t.rstrip().endswith(suffix))  # the branch's wake-up first
    if len(kept) > MAX_ENTRY_LINES:
        log(f"{entry.name}: {len(kept)} different lines; the first {MAX_ENTRY_LINES} are "
            "taken, the rest dropped", level=WARNING)
        kept = kept[:MAX_ENTRY_LINES]
    if len(kept) == len(entry.lines):
        return entry
    return queue.rest(entry, tuple(kept))
