"""The last commit of `repo.branch` taskbot has processed: `state_dir/tip.json`.

A spool line or a webhook only wakes the daemon; the range it processes is always
this record .. the branch's tip in the repository now. So a line naming an old,
long-done commit replays nothing, and a push made while the daemon was down is
processed when it starts. Written whole and fsync'd after each processed range.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.atomic import write_atomic
from bot.state.statedir import TIP, read_owned


def load(state_dir: Path, ref: str) -> str | None:
    """The last processed sha of `ref`, or None when there is no (readable) record."""
    try:
        doc = json.loads(read_owned(state_dir / TIP))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("ref") != ref or not isinstance(doc.get("sha"), str):
        return None
    return doc["sha"] or None


def save(state_dir: Path, ref: str, sha: str) -> None:
    write_atomic(state_dir / TIP, json.dumps({"ref": ref, "sha": sha}).encode(), 0o644)
