"""A push race or a refusing remote never loses a finished run (issue 9, item 3).

A `pre-receive` hook in the bare repository holds taskbot's push to `main` while a person
pushes, so git answers taskbot `failed to update ref` deterministically; another hook
refuses taskbot's pushes to `main` for good.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import await_path, bare_branches, installed, reports, task_text
from tests.kit.git import Sandbox, git
from tests.kit.receivers import HttpReceiver

HOOK = """\
#!/bin/sh
# Acts on taskbot's pushes to main only; everybody else's pass at once.
while read -r old new ref; do
    [ "$ref" = refs/heads/main ] || continue
    [ "$new" = 0000000000000000000000000000000000000000 ] && continue
    [ "$(git log -1 --format=%ae "$new")" = taskbot@build-host ] || continue
{action}
done
exit 0
"""
HOLD_FIRST = """\
    if [ ! -e {d}/held ]; then
        touch {d}/held
        i=0
        while [ ! -e {d}/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    fi"""
REFUSE = """\
    echo "policy: no bot pushes to main" >&2
    exit 1"""


def _pre_receive(box: Sandbox, action: str) -> None:
    hook = box.bare / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(action=action))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _seen(state: Path, task_id: str) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and task_id in tasks and idle_and_empty(state)()


@pytest.mark.integration
def test_a_person_pushing_while_taskbots_push_waits_loses_nothing(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    count = tmp_path / "COUNT"
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        state = box.root / "state"
        _pre_receive(box, HOLD_FIRST.format(d=marks))
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            rel = "tasks/active/TASK-1.md"
            box.write(rel, task_text("TASK-1", [("Deploy", f"sh -c 'echo run >> {count}'")]))
            box.commit_push("add TASK-1")
            await_path(marks / "held")  # taskbot's push to main waits in pre-receive
            text = (box.clone / rel).read_text()
            box.write(rel, text.replace("# TASK-1\n", "# TASK-1 (edited by a person)\n"))
            _, person = box.commit_push("person: retitle")
            (marks / "go").touch()  # git now refuses taskbot: main moved under its push
            until(daemon.notify, lambda: _seen(state, "TASK-1")
                                 and git(box.bare, "log", "-1", "--format=%ae", "main")
                                 == "taskbot@build-host")
            [post] = receiver.wait_for(1)
    assert count.read_text().splitlines() == ["run"]  # ran once, never again
    final = box.main_file(rel)
    assert "- [x] Deploy" in final and "# TASK-1 (edited by a person)" in final
    assert git(box.bare, "rev-parse", "main^") == person  # re-applied on the person's commit
    assert bare_branches(box) == []
    assert len(reports(state, "TASK-1")) == 1
    assert post.title == "TASK-1 complete: 1/1 criteria done"


@pytest.mark.integration
def test_a_remote_that_refuses_taskbot_gets_the_work_on_a_kept_branch(tmp_path: Path) -> None:
    count = tmp_path / "COUNT"
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        state = box.root / "state"
        _pre_receive(box, REFUSE)
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            rel = "tasks/active/TASK-2.md"
            box.write(rel, task_text("TASK-2", [("Deploy", f"sh -c 'echo run >> {count}'")]))
            box.commit_push("add TASK-2")
            until(daemon.notify, lambda: _seen(state, "TASK-2"))
            [post] = receiver.wait_for(1)
            log = daemon.stderr()
    assert count.read_text().splitlines() == ["run"]
    # the daemon's line says where the commit went, not only that main lacks it
    assert "TASK-2 complete: 1/1 criteria done (no commit on the branch): main refused the " \
        "push (" in log and "; taskbot's commit is on taskbot/TASK-2 (pushed)\n" in log
    assert "- [ ] Deploy" in box.main_file(rel)  # main was never moved by taskbot
    assert bare_branches(box) == ["taskbot/TASK-2"]
    assert "- [x] Deploy" in git(box.bare, "show", f"taskbot/TASK-2:{rel}")
    [report] = reports(state, "TASK-2")
    text = report.read_text()
    assert "pre-receive hook declined" in text and "taskbot/TASK-2" in text
    assert post.title.startswith("TASK-2")
