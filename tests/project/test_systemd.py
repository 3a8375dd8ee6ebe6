"""The systemd unit: `systemd-analyze verify` says nothing; `security` exposure ≤ 4.5."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.kit.daemon import REPO_ROOT, TASKBOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing"),
]

UNIT = REPO_ROOT / "systemd" / "taskbot.service"
SHIPPED_EXEC = "/opt/taskbot/bin/taskbot"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart pointing at this venv's taskbot (verify wants it to exist)."""
    text = UNIT.read_text()
    assert f"ExecStart={SHIPPED_EXEC} " in text
    copy = tmp_path / "taskbot.service"
    copy.write_text(text.replace(SHIPPED_EXEC, str(TASKBOT)))
    return copy


def test_unit_verifies_without_a_word(unit: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", "--generators=no", str(unit)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stderr == "" and done.stdout == ""


def test_unit_exposure_is_at_most_4_5(unit: Path) -> None:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, check=False)
    found = re.search(r"Overall exposure level for taskbot\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 4.5


def test_unit_says_what_the_daemon_needs() -> None:
    keys = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                if "=" in line and not line.startswith("#"))
    assert keys["Type"] == "notify" and keys["Restart"] == "on-failure"
    assert keys["User"] == "taskbot" and keys["StateDirectory"] == "taskbot"
    assert keys["KillMode"] == "mixed"  # SIGTERM to taskbot only: the criterion in flight ends
    assert "WatchdogSec" in keys and keys["RestartPreventExitStatus"] == "2"
    assert keys["ExecStart"].endswith(" serve")
