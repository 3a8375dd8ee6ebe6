"""Issue 17, pushed shapes the last round did not try, against `taskbot serve` with its hook.

A name of 255 bytes (the most a file system takes) gets its ticks; a bidi override in a
name or an id reaches no report or log line as itself; a push of a few bytes that names
one large blob at hundreds of paths, or a blob of many megabytes, is looked at one file at
a time and the large one never read: the daemon's peak memory stays flat.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.notify import reportstore
from tests.kit.daemon import processed, running_daemon, status_doc, until
from tests.kit.exactly import installed, task_text
from tests.kit.git import Sandbox, git

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"


def _blob(box: Sandbox, data: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=box.clone, input=data,
                          capture_output=True, check=True).stdout.decode().strip()


def _push_entries(box: Sandbox, entries: list[tuple[str, str]], *extra: str) -> str:
    """Index entries (path, blob) committed and pushed as they are: names no shell writes."""
    lines = b"".join(f"100644 {blob}\t{path}".encode() + b"\0" for path, blob in entries)
    subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=box.clone, input=lines,
                   check=True)
    git(box.clone, "commit", "-q", *extra, "-m", "shapes")
    git(box.clone, "push", "-q", "origin", "HEAD:main")
    return git(box.bare, "rev-parse", "main")


def _settled(box: Sandbox) -> bool:
    return processed(box.root / "state", git(box.bare, "rev-parse", "main"))


def _peak_kib(box: Sandbox) -> int:
    daemon = status_doc(box.root / "state")["daemon"]
    assert isinstance(daemon, dict)
    status = Path(f"/proc/{daemon['pid']}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def test_a_255_byte_name_gets_its_tick(tmp_path: Path) -> None:
    box = installed(tmp_path)
    name = "tasks/active/" + "L" * 252 + ".md"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write(name, task_text("LONG-1", [("Say ok", "touch LONG1")]))
        box.commit_push("a long name")
        until(daemon.notify, lambda: _settled(box))
        log = daemon.stderr()
    assert "File name too long" not in log
    assert "- [x] Say ok" in box.main_file(name)


def test_a_bidi_override_shows_as_an_escape(tmp_path: Path) -> None:
    box = installed(tmp_path)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write("tasks/active/c\u202edm.x.md", task_text("NAME-1", [("Say", "touch NAME1")]))
        box.write("tasks/active/RTL-1.md", task_text("RTL-\u202e1", [("Say", "true")]))
        box.commit_push("bidi overrides")
        until(daemon.notify, lambda: _settled(box))
        log = daemon.stderr()
    assert not (tmp_path / "demo" / "NAME1").exists()
    refused = reportstore.last(box.root / "state", ".refused").markdown_path.read_text()
    assert "tasks/active/c\\\\u202edm.x.md: the file name holds a control character" in refused
    assert "RTL-\\u202e1 complete: 1/1" in log and "\u202e" not in log


def test_one_large_blob_at_many_paths_is_read_one_file_at_a_time(tmp_path: Path) -> None:
    box = installed(tmp_path)
    meg = _blob(box, b"- [ ] x\n" * (1 << 17))  # 1 MiB: the most taskbot reads
    huge = _blob(box, b"- [ ] x\n" * (1 << 23))  # 64 MiB
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, lambda: status_doc(box.root / "state").get("daemon") is not None)
        before = _peak_kib(box)
        entries = [(f"tasks/active/F{i}.md", meg) for i in range(300)]
        sha = _push_entries(box, [*entries, ("tasks/active/A-HUGE.md", huge)], EVIL)
        until(daemon.notify, lambda: processed(box.root / "state", sha), timeout=60)
        peak = _peak_kib(box)
        git(box.clone, "rm", "-q", "-r", "--cached", "tasks")
        box.write("tasks/active/TASK-1.md", task_text("TASK-1", [("Say ok", "true")]))
        box.commit_push("a task")
        until(daemon.notify, lambda: _settled(box))
    assert peak - before < 64 << 10, f"peak memory grew by {(peak - before) >> 10} MiB"
    assert "- [x] Say ok" in box.main_file("tasks/active/TASK-1.md")
    refused = reportstore.last(box.root / "state", ".refused").markdown_path.read_text()
    assert "tasks/active/A-HUGE.md: larger than 1 MiB (67108864 bytes)" in refused


def test_a_folder_1100_deep_stops_no_later_push(tmp_path: Path) -> None:
    box = installed(tmp_path)
    deep = "tasks/active/" + "d/" * 1100 + "DEEP-1.md"
    deep_task = _blob(box, task_text("DEEP-1", [("Say ok", "touch DEEP1")]).encode())
    waiting = _blob(box, task_text("WAIT-1", [("Say ok", "true")], deps=["NONE-9"]).encode())
    try:
        _deep_round(box, tmp_path, deep, deep_task, waiting)
    finally:  # pytest's own cleanup recurses, and 1,100 folders exceed its limit
        subprocess.run(["rm", "-rf", "--", str(box.root / "state")], check=False)


def _deep_round(box: Sandbox, tmp_path: Path, deep: str, deep_task: str, waiting: str) -> None:
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _push_entries(box, [(deep, deep_task), ("tasks/active/WAIT-1.md", waiting)])
        until(daemon.notify, lambda: _settled(box), timeout=60)
        git(box.clone, "fetch", "-q", "origin")  # no checkout: the clone's paths are too long
        git(box.clone, "reset", "-q", "--soft", "origin/main")
        git(box.clone, "read-tree", "origin/main")
        task = _blob(box, task_text("TASK-1", [("Say ok", "true")]).encode())
        _push_entries(box, [("tasks/active/TASK-1.md", task)])
        until(daemon.notify, lambda: _settled(box), timeout=60)
        log = daemon.stderr()
    assert "RecursionError" not in log
    failed = box.root / "state" / "queue" / "failed"
    assert not failed.is_dir() or not list(failed.iterdir())
    assert "- [x] Say ok" in box.main_file(deep)
    assert "- [x] Say ok" in box.main_file("tasks/active/TASK-1.md")
