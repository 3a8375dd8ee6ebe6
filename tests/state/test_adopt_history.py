"""After a lost state dir, `taskbot init --adopt-history` lets the operator vouch for the
branch as it is: taskbot's earlier commits count as its own again (issue 9, README)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot import config as configmod
from bot.pipeline import Rerun, process
from bot.plugin.plugins import load_handlers
from bot.state import statedir
from tests.git.test_owncommits import TASK, _process
from tests.kit.daemon import TASKBOT
from tests.kit.git import sandbox
from tests.pipeline.test_pipeline import NOW

pytestmark = pytest.mark.integration


def test_a_lost_record_refuses_reruns_until_the_operator_adopts_the_history(
        tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK.replace(
        "- [ ] By hand\n", '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n'
        "- [ ] Still by hand\n"))
    _process(box, *box.commit_push("add task"))
    config = configmod.load(box.config)
    (box.root / "state" / statedir.OWN_COMMITS).unlink()  # the state dir was lost
    refused = process(config, load_handlers(), Rerun("TASK-001"), now=NOW)
    assert "not in [trust] authors" in refused[0].message
    done = subprocess.run([str(TASKBOT), "--config", str(box.config), "init", "--adopt-history"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "recorded 1 commit(s) by taskbot@build-host on main" in done.stdout
    again = process(config, load_handlers(), Rerun("TASK-001"), now=NOW)
    assert "not in [trust] authors" not in again[0].message


def test_adopting_the_history_makes_a_lost_state_dir_again(tmp_path: Path) -> None:
    """What the command is for: the whole state dir is gone, not only the record in it."""
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK.replace(
        "- [ ] By hand\n", '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n'
        "- [ ] Still by hand\n"))
    _process(box, *box.commit_push("add task"))
    shutil.rmtree(box.root / "state")
    done = subprocess.run([str(TASKBOT), "--config", str(box.config), "init", "--adopt-history"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "recorded 1 commit(s) by taskbot@build-host on main as taskbot's own (you vouched for "
        "them)")
    again = process(configmod.load(box.config), load_handlers(), Rerun("TASK-001"), now=NOW)
    assert "not in [trust] authors" not in again[0].message
