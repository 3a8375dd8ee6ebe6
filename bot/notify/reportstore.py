"""Every run's report, kept under `<state_dir>/reports/<TASK-ID>/<run-id>.{md,json}`.

`<TASK-ID>/last` names the run id of the task's latest report; `taskbot report TASK`
prints it. Files are written atomically, the pointer last, so `last` never names a
report that is not complete on disk. Reports are stored already redacted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.atomic import write_atomic
from bot.errors import TaskbotError
from bot.statedir import owned, owner, read_owned
from bot.textcap import cap_document

__all__ = ["StoredReport", "all_last", "last", "markdown", "save"]

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]")


def _safe(name: str) -> str:
    cleaned = _UNSAFE_RE.sub("_", name).lstrip(".")
    return cleaned or "_"


@dataclass(frozen=True)
class StoredReport:
    task_id: str
    run_id: str
    markdown_path: Path
    json_path: Path

    def markdown(self) -> str:
        return self.markdown_path.read_text(encoding="utf-8")

    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.json_path.read_text(encoding="utf-8"))
        return doc


def _root(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "reports"


def _stored(folder: Path, task_id: str, run_id: str) -> StoredReport:
    return StoredReport(task_id, run_id, folder / f"{run_id}.md", folder / f"{run_id}.json")


def save(state_dir: str | os.PathLike[str], task_id: str, run_id: str, markdown: str,
         doc: dict[str, Any]) -> StoredReport:
    """Keep one run's report (Markdown and JSON) and make it the task's last one."""
    folder = _root(state_dir) / _safe(task_id)
    owned(folder.parent)
    owned(folder)  # NotOwned (an OSError too) like a full disk: the caller reports it
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = _stored(folder, task_id, _safe(run_id))
    markdown = cap_document(markdown)  # `to_markdown` caps it; any other caller too
    write_atomic(stored.markdown_path, markdown.encode("utf-8"))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    write_atomic(stored.json_path, text.encode("utf-8"))
    write_atomic(folder / "last", f"{stored.run_id}\n".encode())
    return stored


def _folder(state_dir: str | os.PathLike[str], task_id: str) -> Path | None:
    root = _root(state_dir)
    exact = root / _safe(task_id)
    if exact.is_dir():
        return exact
    if root.is_dir():  # task ids are matched case-insensitively, as everywhere
        for folder in sorted(root.iterdir()):
            if folder.name.lower() == _safe(task_id).lower() and folder.is_dir():
                return folder
    return None


def last(state_dir: str | os.PathLike[str], task_id: str) -> StoredReport:
    """The task's latest stored report; TaskbotError when there is none."""
    folder = _folder(state_dir, task_id)
    pointer = folder / "last" if folder else None
    if folder is None or pointer is None or not pointer.is_file():
        raise TaskbotError(f"{task_id}: no report stored yet under {_root(state_dir)} "
                           f"(reports are kept for runs that executed something)")
    run_id = read_owned(pointer, owner(Path(state_dir))).decode("utf-8", errors="replace").strip()
    stored = _stored(folder, folder.name, run_id)
    if not stored.markdown_path.is_file() or not stored.json_path.is_file():
        raise TaskbotError(f"{pointer}: names run {run_id!r}, whose report files are missing")
    return stored


def markdown(state_dir: str | os.PathLike[str], task_id: str, run_id: str) -> str | None:
    """One run's stored Markdown report, or None (to repair a git note that never arrived)."""
    folder = _folder(state_dir, task_id)
    if folder is None:
        return None
    try:
        data = read_owned(_stored(folder, task_id, _safe(run_id)).markdown_path,
                          owner(Path(state_dir)))
    except OSError:
        return None
    return data.decode("utf-8", errors="replace")


def all_last(state_dir: str | os.PathLike[str]) -> dict[str, StoredReport]:
    """The latest report of every task that has one (for `taskbot status`)."""
    root = _root(state_dir)
    found: dict[str, StoredReport] = {}
    if not root.is_dir():
        return found
    for folder in sorted(root.iterdir()):
        if (folder / "last").is_file():
            try:
                found[folder.name] = last(state_dir, folder.name)
            except TaskbotError:
                continue
    return found
