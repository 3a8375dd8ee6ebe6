"""Every run's report, kept under `<state_dir>/reports/<TASK-ID>/<run-id>.{md,json}`.

`<TASK-ID>/last` names the run id of the task's latest report; `taskbot report TASK`
prints it. Files are written atomically, the pointer last, so `last` never names a
report that is not complete on disk. Reports are stored already redacted.

Any text is stored, never refused: a task id or run id becomes a file name by escaping
(`%XX` for each byte outside `[A-Za-z0-9._-]`, a leading dot included; cut with a digest
past `NAME_MAX` bytes), so distinct ids never share a folder; a lone surrogate in the
report (a file name that was not UTF-8, a title `"\uD800"`) is written as the escape
`\xff` / `\ud800`.

A bounded history: the last `KEEP_RUNS` reports of each task, for the `KEEP_TASKS` tasks
reported most recently. Older reports are removed when a new one is saved (each is also
the git note on taskbot's commit).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.atomic import write_atomic
from bot.errors import TaskbotError
from bot.state.statedir import REPORTS, owned, owner, read_owned
from bot.text.textcap import cap_document

__all__ = ["KEEP_RUNS", "KEEP_TASKS", "StoredReport", "all_last", "last", "markdown", "of_run",
           "save"]

KEEP_RUNS = 10  # reports kept per task
KEEP_TASKS = 1000  # tasks whose reports are kept, the most recently reported
NAME_MAX = 200  # bytes of an escaped name; longer ones are cut and end in a digest
_PLAIN_RE = re.compile(rb"[A-Za-z0-9_.-]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_LEGACY_RE = re.compile(r"[^A-Za-z0-9._-]")


def _safe(name: str) -> str:
    """`name` as one file name: plain characters kept, every other byte `%XX`."""
    data = name.encode("utf-8", errors="surrogateescape" if _escaped_bytes(name)
                       else "surrogatepass")
    escaped = "".join(chr(b) if _PLAIN_RE.fullmatch(bytes((b,))) and not (i == 0 and b == 0x2E)
                      else f"%{b:02X}" for i, b in enumerate(data)) or "%"
    if len(escaped) > NAME_MAX:
        digest = hashlib.sha256(data).hexdigest()[:16]
        escaped = f"{escaped[:NAME_MAX - 17].rstrip('%0123456789ABCDEF')}-{digest}"
    return escaped


def _escaped_bytes(name: str) -> bool:
    """Whether `name` holds only the surrogates `surrogateescape` makes of undecodable bytes."""
    return all("\udc80" <= ch <= "\udcff" for ch in _SURROGATE_RE.findall(name))


def _legacy(name: str) -> str:
    """The folder name earlier versions used (lookups still find those reports)."""
    return _LEGACY_RE.sub("_", name).lstrip(".") or "_"


def _text(text: str) -> str:
    """`text` encodable as UTF-8: each lone surrogate written as an escape."""
    return _SURROGATE_RE.sub(lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}" if "\udc80" <= m[0]
                             <= "\udcff" else f"\\u{ord(m[0]):04x}", text)


def _doc(value: Any) -> Any:
    """A JSON document with `_text` applied to every string, keys included."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_doc(k): _doc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_doc(v) for v in value]
    return value


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
    return Path(state_dir) / REPORTS


def _stored(folder: Path, task_id: str, run_id: str) -> StoredReport:
    return StoredReport(task_id, run_id, folder / f"{run_id}.md", folder / f"{run_id}.json")


def save(state_dir: str | os.PathLike[str], task_id: str, run_id: str, markdown: str,
         doc: dict[str, Any]) -> StoredReport:
    """Keep one run's report (Markdown and JSON) and make it the task's last one; then drop
    what falls out of the history. Any text is stored (escaped); OSError as the disk says."""
    folder = _root(state_dir) / _safe(task_id)
    owned(folder.parent)
    owned(folder)  # NotOwned (an OSError too) like a full disk: the caller reports it
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = _stored(folder, task_id, _safe(run_id))
    markdown = cap_document(_text(markdown))  # `to_markdown` caps it; any other caller too
    write_atomic(stored.markdown_path, markdown.encode("utf-8"))
    text = json.dumps(_doc(doc), indent=2, ensure_ascii=False) + "\n"
    write_atomic(stored.json_path, text.encode("utf-8"))
    write_atomic(folder / "last", f"{stored.run_id}\n".encode())
    _forget_runs(folder, stored.run_id)
    _forget_tasks(_root(state_dir), folder)
    return stored


def _forget_runs(folder: Path, keep: str) -> None:
    """All but the task's `KEEP_RUNS` newest reports (by the time they were saved)."""
    runs: dict[str, int] = {}
    for entry in os.scandir(folder):
        stem, dot, suffix = entry.name.rpartition(".")
        if dot and suffix in ("md", "json") and not entry.name.startswith("."):
            with contextlib.suppress(OSError):
                runs[stem] = max(runs.get(stem, 0),
                                 entry.stat(follow_symlinks=False).st_mtime_ns)
    if len(runs) <= KEEP_RUNS:
        return
    ordered = sorted((r for r in runs if r != keep), key=lambda r: (runs[r], r), reverse=True)
    for run in ordered[KEEP_RUNS - 1:]:
        for suffix in ("md", "json"):
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{run}.{suffix}").unlink()


def _forget_tasks(root: Path, keep: Path) -> None:
    """Past `KEEP_TASKS` tasks, the reports of the least recently reported (by the time
    their `last` pointer was written) go, down to nine tenths: then the folders are looked
    at closely only once in a while, not on every save."""
    names = [e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    if len(names) <= KEEP_TASKS:
        return
    stamped = sorted(((_reported(root / n), n) for n in names if n != keep.name), reverse=True)
    for _, name in stamped[KEEP_TASKS * 9 // 10 - 1:]:
        shutil.rmtree(root / name, ignore_errors=True)


def _reported(folder: Path) -> int:
    for path in (folder / "last", folder):
        with contextlib.suppress(OSError):
            return os.stat(path, follow_symlinks=False).st_mtime_ns
    return 0


def _folder(state_dir: str | os.PathLike[str], task_id: str) -> Path | None:
    root = _root(state_dir)
    for name in (_safe(task_id), _legacy(task_id)):
        if (root / name).is_dir():
            return root / name
    if root.is_dir():  # task ids are matched case-insensitively, as everywhere
        wanted = {_safe(task_id).lower(), _legacy(task_id).lower()}
        for folder in sorted(root.iterdir()):
            if folder.name.lower() in wanted and folder.is_dir():
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


def of_run(state_dir: str | os.PathLike[str], task_id: str, run_id: str) -> StoredReport:
    """One run's stored report (kept: one of the task's last `KEEP_RUNS`); TaskbotError
    when it is not kept."""
    folder = _folder(state_dir, task_id)
    stored = _stored(folder, folder.name, _safe(run_id)) if folder else None
    if stored is None or not stored.markdown_path.is_file() or not stored.json_path.is_file():
        raise TaskbotError(f"{task_id}: no report of run {run_id!r} is kept under "
                           f"{_root(state_dir)} (the last {KEEP_RUNS} runs of a task are)")
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
