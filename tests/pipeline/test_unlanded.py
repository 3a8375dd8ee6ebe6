"""A criterion done whose tick did not reach the branch is never run again (issue 9).

The branch refuses taskbot's push (a pre-receive hook, as a protected branch would): the
work is kept on `taskbot/<ID>`. A later run of the task — a `rerun` line anyone can write
into the spool — ticks it from taskbot's record instead of running it a second time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config as configmod
from bot.pipeline import Push, Rerun, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import Sandbox, git, sandbox
from tests.pipeline.test_pipeline import NOW

pytestmark = pytest.mark.integration

TASK = """\
---
id: TASK-040
title: Two steps
---
# TASK-040

## Acceptance Criteria
- [ ] First <!-- taskbot: shell project=demo cmd="sh -c 'echo first >> {ledger}'" -->
- [ ] Later by hand
"""

REFUSE_TASKBOT = """#!/bin/sh
while read old new ref; do
  if [ "$(git log -1 --format=%ae "$new")" = taskbot@build-host ] && [ "$ref" = refs/heads/main ]; then
    echo "main is protected" >&2; exit 1
  fi
done
"""


def _refusing(tmp_path: Path) -> tuple[Sandbox, Path, Path, configmod.Config]:
    """A sandbox whose bare repo refuses taskbot's pushes to main, the commands' ledger, the
    hook (unlink it to let taskbot through again) and the configuration."""
    box = sandbox(tmp_path)
    hook = box.bare / "hooks" / "pre-receive"
    hook.write_text(REFUSE_TASKBOT)
    hook.chmod(0o755)
    return box, tmp_path / "ledger", hook, configmod.load(box.config)


def test_a_tick_kept_on_a_branch_is_not_run_again_and_lands_later(tmp_path: Path) -> None:
    box, ledger, hook, config = _refusing(tmp_path)
    box.write("tasks/active/TASK-040.md", TASK.format(ledger=ledger))
    old, new = box.commit_push("add task")
    first = process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)
    assert ledger.read_text() == "first\n"
    assert first[0].commit is None  # kept, not on main
    assert "- [ ] First" in box.main_file("tasks/active/TASK-040.md")
    assert git(box.bare, "branch", "--list", "taskbot/TASK-040").strip()

    hook.unlink()  # the branch takes taskbot's pushes again
    again = process(config, load_handlers(), Rerun("TASK-040"), now=NOW)
    assert ledger.read_text() == "first\n"  # not run a second time
    text = box.main_file("tasks/active/TASK-040.md")
    assert "- [x] First" in text
    assert "not run again" in text  # the Progress Log says where the tick came from
    assert again[0].commit == git(box.bare, "rev-parse", "main")
    # Landed: nothing is remembered any more, so unticking it would run it again.
    assert (tmp_path / "state" / "unlanded.json").read_text() == "{}"


def test_another_criterion_landing_does_not_forget_a_kept_tick(tmp_path: Path) -> None:
    box, ledger, hook, config = _refusing(tmp_path)
    box.write("tasks/active/TASK-040.md", TASK.format(ledger=ledger))
    process(config, load_handlers(), Push(*box.commit_push("add task"), "refs/heads/main"),
            now=NOW)
    hook.unlink()
    # A person adds a second runnable criterion on main; its run lands.
    text = (box.clone / "tasks/active/TASK-040.md").read_text()
    box.write("tasks/active/TASK-040.md", text.replace(
        "- [ ] Later by hand\n",
        f"- [ ] Second <!-- taskbot: shell project=demo cmd=\"sh -c 'echo second >> {ledger}'\" -->"
        "\n- [ ] Later by hand\n"))
    process(config, load_handlers(), Push(*box.commit_push("add a criterion"),
                                          "refs/heads/main"), now=NOW)
    assert ledger.read_text() == "first\nsecond\n"
    # The first criterion's tick still waits on its kept branch: a rerun must not run it.
    process(config, load_handlers(), Rerun("TASK-040"), now=NOW)
    assert ledger.read_text() == "first\nsecond\n"
    assert "- [x] First" in box.main_file("tasks/active/TASK-040.md")


def test_identical_criteria_are_remembered_one_by_one(tmp_path: Path) -> None:
    box, ledger, _hook, config = _refusing(tmp_path)
    twice = TASK.format(ledger=ledger).replace("- [ ] Later by hand\n", "")
    first_line = next(ln for ln in twice.splitlines() if ln.startswith("- [ ] First"))
    box.write("tasks/active/TASK-040.md", twice + first_line + "\n- [ ] Later by hand\n")
    process(config, load_handlers(), Push(*box.commit_push("add task"), "refs/heads/main"),
            now=NOW)
    assert ledger.read_text() == "first\nfirst\n"  # two identical criteria, each ran once
    process(config, load_handlers(), Rerun("TASK-040"), now=NOW)
    assert ledger.read_text() == "first\nfirst\n"  # neither runs a second time
