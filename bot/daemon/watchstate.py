"""Watch mode's memory, `<state_dir>/watch.json`: the branch tip last processed."""

from __future__ import annotations

import json
from pathlib import Path

from bot.atomic import write_atomic
from bot.state.statedir import WATCH

__all__ = ["load", "save"]


def load(state_dir: Path, ref: str) -> str:
    """The sha last processed on `ref`; '' when none is known (or it was another ref's)."""
    try:
        data = json.loads((state_dir / WATCH).read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(data, dict) or data.get("ref") != ref:
        return ""
    return str(data.get("sha", ""))


def save(state_dir: Path, git_dir: Path | None, ref: str, sha: str) -> None:
    doc = {"git_dir": str(git_dir), "ref": ref, "sha": sha}
    write_atomic(state_dir / WATCH, json.dumps(doc).encode(), 0o644)
