"""`taskbot demo` (what `make demo` runs): the whole flow in a sandbox it builds itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_shows_bot_commit_and_notification() -> None:
    taskbot = Path(sys.executable).parent / "taskbot"
    done = subprocess.run([str(taskbot), "demo"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "taskbot: taskbot(TASK-001): partial, 3/5 criteria done" in out
    assert "Becker: Add TASK-001: release the demo service" in out
    assert "+- [x] Say hello from the build host" in out
    assert "-- [ ] Say hello from the build host" in out
    assert "Triggered-By: " in out and "Taskbot-Run: " in out
    assert "== notification received (warning): TASK-001 partial: 3/5 criteria done" in out
    assert "- ⏳ Project has a CHANGELOG" in out
    sandbox = out.split("== sandbox ", 1)[1].split(":", 1)[0]
    assert not Path(sandbox).exists()
