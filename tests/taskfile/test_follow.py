"""Following a criterion into a changed file (`bot.taskfile.follow`), and the ticks that
use it: `apply` with the version the run read, and `taskbot run` while a person edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import taskfile as tf
from bot.cli import main
from bot.taskfile import follow as follow_module
from bot.taskfile.follow import follow
from bot.taskfile.parse import parse_cached
from tests.kit.config import local_workspace

PATH = "tasks/active/T-5.md"
SMOKE = "- [ ] Smoke <!-- taskbot: shell project=demo -->\n"
TWO = f"""\
# T-5

## Acceptance Criteria
### Staging
- [x] Staging is up <!-- taskbot: shell project=demo cmd="sh fail.sh" -->
{SMOKE}### Prod
- [x] Prod is up <!-- taskbot: shell project=demo cmd="true" -->
{SMOKE}"""
CANARY = f"### Canary\n- [x] Canary is up\n{SMOKE}"


def _follow(before: str, after: str) -> dict[int, int]:
    return follow(parse_cached(before.encode(), PATH), parse_cached(after.encode(), PATH))


def test_an_identical_line_added_above_is_not_the_one_followed() -> None:
    person = TWO.replace("### Staging\n", CANARY + "### Staging\n")
    # before: 0 Staging is up, 1 Smoke, 2 Prod is up, 3 Smoke; after: the canary's two first
    assert _follow(TWO, person) == {0: 2, 1: 3, 2: 4, 3: 5}
    assert _follow(person, TWO) == {2: 0, 3: 1, 4: 2, 5: 3}


def test_a_box_or_spacing_is_no_change_an_edited_or_removed_line_is() -> None:
    spaced = "* [X] Smoke  <!-- taskbot: shell project=demo -->\n### Prod"
    ticked = TWO.replace("- [x] Prod is up", "- [ ] Prod is up").replace(SMOKE + "### Prod", spaced)
    assert _follow(TWO, ticked) == {0: 0, 1: 1, 2: 2, 3: 3}
    edited = TWO.replace("- [x] Staging is up", "- [x] Staging is up, really")
    assert _follow(TWO, edited) == {1: 1, 2: 2, 3: 3}
    gone = TWO.replace("### Prod\n- [x] Prod is up", "### Prod\n- [~] Prod is up")
    assert _follow(TWO, gone) == {0: 0, 1: 1, 3: 2}


def test_a_middle_too_large_to_diff_follows_nothing_there(monkeypatch: pytest.MonkeyPatch) -> None:
    person = TWO.replace("### Staging\n", CANARY + "### Staging\n") + "\nA note.\n"
    assert _follow(TWO, person) == {0: 2, 1: 3, 2: 4, 3: 5}
    monkeypatch.setattr(follow_module, "MAX_MIDDLE", 2)
    assert _follow(TWO, person) == {}  # what it cannot tell, a caller leaves to a person
    missing = tf.apply(person.encode(), tf.Edit(ticks=(tf.Tick(SMOKE[6:].strip(), 1),)), PATH,
                       base=TWO.encode())
    assert missing.data == person.encode() and missing.missing == (SMOKE[6:].strip(),)


def test_apply_ticks_the_line_that_ran_in_the_file_a_person_changed() -> None:
    smoke = SMOKE[6:].strip()
    person = TWO.replace("### Staging\n", CANARY + "### Staging\n")
    done = tf.apply(person.encode(), tf.Edit(ticks=(tf.Tick(smoke, 1),)), PATH, base=TWO.encode())
    prod = '- [x] Prod is up <!-- taskbot: shell project=demo cmd="true" -->\n'
    assert done.data.decode() == person.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    assert done.ticked == (smoke,) and done.missing == ()
    # the person re-checked it meanwhile: nothing changes, and it is missing
    rechecked = person.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    again = tf.apply(rechecked.encode(), tf.Edit(ticks=(tf.Tick(smoke, 1),)), PATH,
                     base=TWO.encode())
    assert again.data == rechecked.encode() and again.missing == (smoke,)


EDIT = """\
smoke='- [ ] Smoke <!-- taskbot: shell project=demo -->'
sed -i "s/^### Staging$/### Canary\\n- [x] Canary is up\\n$smoke\\n### Staging/" {task}
exit 1
"""


def test_taskbot_run_ticks_the_smoke_that_ran_while_a_person_adds_one_above(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The failing Staging Smoke stands in for a person: while it runs, a Canary Smoke
    appears above it. The Prod Smoke succeeds: its box is ticked, no other."""
    config, path = local_workspace(tmp_path, "T-5.md", TWO)
    (tmp_path / "demo" / "fail.sh").write_text(EDIT.format(task=path))
    assert main(["--config", str(config), "run", str(path), "--no-notify"]) == 1
    text = path.read_text()
    head, log = text.split("## Progress Log\n")
    prod = '- [x] Prod is up <!-- taskbot: shell project=demo cmd="true" -->\n'
    person = TWO.replace("### Staging\n", CANARY + "### Staging\n")
    assert head.split("---\n", 2)[2] == person.replace(
        prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]")) + "\n"
    assert ": Failed: Smoke (under Staging): sh fail.sh exited 1" in log
    assert ": Done: Smoke (under Prod) (true exited 0)" in log
    # the report gives each open Smoke its own reason: the canary's never ran
    assert ("- ⏳ Smoke\n  - Reason: not triggered by this change; \\`taskbot run\\` re-runs it\n"
            "- ⏳ Smoke\n  - Reason: sh fail.sh exited 1\n") in capsys.readouterr().out
