"""A tick goes to the criterion that ran, never to another line that reads the same
(issue 17, finding 4): a real daemon, its hook, real `git push`.

Two groups each hold `- [ ] Smoke <!-- taskbot: shell project=demo -->`; each Smoke takes
its `cmd` from the criterion above it (the nearest earlier one naming project `demo`).
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tests.kit.daemon import await_entries, idle_and_empty, running_daemon, until
from tests.kit.exactly import await_path, installed
from tests.kit.git import Sandbox, git

pytestmark = pytest.mark.integration

REL = "tasks/active/TASK-041.md"
SMOKE = "- [ ] Smoke <!-- taskbot: shell project=demo -->\n"
PROD = '- [x] Prod is up <!-- taskbot: shell project=demo cmd="true" -->\n'
TWO_SMOKES = f"""\
---
id: TASK-041
title: Two smoke tests
---
# TASK-041

## Acceptance Criteria
### Staging
- [x] Staging is up <!-- taskbot: shell project=demo cmd="false" -->
{SMOKE}### Prod
{PROD}{SMOKE}
## Progress Log
- 2026-01-01 10:00: created
"""
STAMP = re.compile(r"^- (\d{4}-\d{2}-\d{2}) \d{2}:\d{2}: ", re.M)


def _stamped(text: str) -> tuple[str, str]:
    """(the day, `YYYY-MM-DD HH:MM`) of taskbot's log lines in `text`."""
    stamps = {m.group(0)[2:-2] for m in STAMP.finditer(text)} - {"2026-01-01 10:00"}
    assert len(stamps) == 1, text
    (stamp,) = stamps
    return stamp[:10], stamp


def _bot_commits(box: Sandbox) -> list[str]:
    """taskbot's commits on main, oldest first."""
    return git(box.bare, "log", "--reverse", "--format=%H", "--author=taskbot", "main").split()


def _run_pushed(box: Sandbox, tmp_path: Path) -> None:
    """Process what was pushed with the daemon stopped: its entries are in the spool first."""
    state = box.root / "state"
    await_entries(state, 1)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, idle_and_empty(state))


def test_the_tick_goes_to_the_smoke_that_ran_not_the_first_that_reads_the_same(
        tmp_path: Path) -> None:
    box = installed(tmp_path)
    box.write(REL, TWO_SMOKES)
    box.commit_push("add TASK-041")
    _run_pushed(box, tmp_path)
    [commit] = _bot_commits(box)
    text = git(box.bare, "show", f"{commit}:{REL}") + "\n"
    day, stamp = _stamped(text)
    assert text == (TWO_SMOKES
                    .replace("title: Two smoke tests\n", f"title: Two smoke tests\nupdated: {day}\n")
                    .replace(PROD + SMOKE, PROD + SMOKE.replace("[ ]", "[x]"))
                    .replace("created\n", "created\n"
                             f"- {stamp}: Failed: Smoke (under Staging): false exited 1\n"
                             f"- {stamp}: Done: Smoke (under Prod) (true exited 0)\n"))


HELD = """\
---
id: TASK-042
title: Held and run
---
# TASK-042

## Acceptance Criteria
### Triager
- [ ] Smoke <!-- taskbot: shell project=demo cmd="true" -->
### Web
- [ ] Smoke <!-- taskbot: shell project=demo cmd="true" -->

## Dependencies
- **TASK-043**: Triager build failure must be resolved
"""
BLOCKER = """\
---
id: TASK-043
title: Triager build
---
# TASK-043

## Acceptance Criteria
- [ ] Fix the triager build
"""


def test_a_criterion_held_by_a_dependency_is_never_ticked(tmp_path: Path) -> None:
    box = installed(tmp_path)
    box.write("tasks/active/TASK-043.md", BLOCKER)
    box.write("tasks/active/TASK-042.md", HELD)
    box.commit_push("add TASK-042 and what it waits on")
    _run_pushed(box, tmp_path)
    text = box.main_file("tasks/active/TASK-042.md") + "\n"
    held, ran = text.split("### Web\n")
    assert "- [ ] Smoke" in held and "- [x] Smoke" not in held
    assert ran.startswith("- [x] Smoke")
    assert "Done: Smoke (under Web)" in text and "under Triager" not in text


HOOK = """\
#!/bin/sh
# Holds taskbot's first push to main until the test says go; everybody else's pass at once.
while read -r old new ref; do
    [ "$ref" = refs/heads/main ] || continue
    [ "$(git log -1 --format=%ae "$new")" = taskbot@build-host ] || continue
    if [ ! -e {d}/held ]; then
        touch {d}/held
        i=0
        while [ ! -e {d}/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    fi
done
exit 0
"""
CANARY = """\
### Canary
- [x] Canary is up <!-- taskbot: shell project=demo cmd="false" -->
""" + SMOKE


def test_reapply_after_a_person_added_an_identical_line_above(tmp_path: Path) -> None:
    """taskbot's push waits while a person pushes a third `Smoke` above both: the re-applied
    tick lands on the Smoke that ran, not on the person's new line."""
    marks = tmp_path / "marks"
    marks.mkdir()
    box = installed(tmp_path)
    state = box.root / "state"
    hook = box.bare / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(d=marks))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write(REL, TWO_SMOKES)
        box.commit_push("add TASK-041")
        await_path(marks / "held")  # taskbot's push to main waits in pre-receive
        person = TWO_SMOKES.replace("### Staging\n", CANARY + "### Staging\n")
        box.write(REL, person)
        _, pushed = box.commit_push("person: a canary smoke test")
        (marks / "go").touch()  # main moved under taskbot's push: it re-applies
        until(daemon.notify, lambda: len(_bot_commits(box)) == 1 and idle_and_empty(state)())
    [first] = _bot_commits(box)
    assert git(box.bare, "rev-parse", f"{first}^") == pushed  # re-applied on the person's
    text = git(box.bare, "show", f"{first}:{REL}") + "\n"
    day, stamp = _stamped(text)
    assert text == (person
                    .replace("title: Two smoke tests\n", f"title: Two smoke tests\nupdated: {day}\n")
                    .replace(PROD + SMOKE, PROD + SMOKE.replace("[ ]", "[x]"))
                    .replace("created\n", "created\n"
                             f"- {stamp}: Failed: Smoke (under Staging): false exited 1\n"
                             f"- {stamp}: Done: Smoke (under Prod) (true exited 0)\n"))
