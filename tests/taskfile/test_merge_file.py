"""The task-file merge by meaning (`bot.taskfile.merge`) and `taskbot merge-file`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import taskfile
from bot.cli import main
from bot.commands.init import STARTER_CONFIG
from bot.taskfile import merge as merge_module
from bot.taskfile.merge import merge, reapply

PATH = "tasks/active/T-1.md"

BASE = """\
---
id: T-1
title: Merge me
updated: 2024-05-01
---
# Merge me

Some prose about the task.
More prose.

## Acceptance Criteria
- [ ] one
- [ ] two
- [ ] three

## Progress Log
- 2024-05-01 10:00: created
"""


def _m(base: str, ours: str, theirs: str) -> tuple[str, int]:
    merged = merge(base.encode(), ours.encode(), theirs.encode(), PATH)
    return merged.data.decode(), merged.conflicts


def _log(text: str) -> list[str]:
    return list(taskfile.parse(text.encode(), PATH).progress_log)


def test_ticks_from_both_sides_and_the_later_date() -> None:
    ours = BASE.replace("- [ ] one", "- [x] one").replace("2024-05-01\n", "2024-05-03\n", 1)
    theirs = BASE.replace("- [ ] two", "- [X] two").replace("2024-05-01\n", "2024-05-02\n", 1)
    text, conflicts = _m(BASE, ours, theirs)
    assert conflicts == 0
    assert "- [x] one\n- [X] two\n- [ ] three\n" in text
    assert "updated: 2024-05-03\n" in text and "2024-05-02" not in text


def test_the_same_tick_on_both_sides_and_an_untick() -> None:
    base = BASE.replace("- [ ] three", "- [x] three")
    ours = base.replace("- [ ] one", "- [x] one")
    theirs = base.replace("- [ ] one", "- [x] one").replace("- [x] three", "- [ ] three")
    text, conflicts = _m(base, ours, theirs)
    assert conflicts == 0 and "- [x] one\n- [ ] two\n- [ ] three\n" in text


def test_log_lines_interleaved_by_time_and_kept_once() -> None:
    ours = BASE.replace("created\n", "created\n- 2024-05-03 09:00: taskbot ran one\n"
                        "- 2024-05-02 15:00: both wrote this\n")
    theirs = BASE.replace("created\n", "created\n- 2024-05-02 15:00: both wrote this\n"
                          "- 2024-05-02 12:00: person did two\n  with a second line\n"
                          "- no time: stays after its predecessor\n"
                          "- 2024-05-04 08:00: person, later\n")
    text, conflicts = _m(BASE, ours, theirs)
    assert conflicts == 0
    assert text.endswith(
        "- 2024-05-01 10:00: created\n"
        "- 2024-05-02 12:00: person did two\n  with a second line\n"
        "- no time: stays after its predecessor\n"
        "- 2024-05-02 15:00: both wrote this\n"
        "- 2024-05-03 09:00: taskbot ran one\n"
        "- 2024-05-04 08:00: person, later\n")


def test_prose_elsewhere_merges_like_git() -> None:
    ours = BASE.replace("- [ ] one", "- [x] one").replace(
        "created\n", "created\n- 2024-05-03 09:00: ran one\n").replace("2024-05-01\n", "2024-05-03\n", 1)
    theirs = BASE.replace("More prose.", "More prose, edited.").replace(
        "title: Merge me", "title: Merge me now").replace(
        "created\n", "created\n- 2024-05-02 09:00: edited\n").replace("2024-05-01\n", "2024-05-02\n", 1)
    text, conflicts = _m(BASE, ours, theirs)
    assert conflicts == 0
    assert "title: Merge me now\n" in text and "More prose, edited." in text
    assert "- [x] one" in text and "updated: 2024-05-03" in text
    assert _log(text)[1:] == ["2024-05-02 09:00: edited", "2024-05-03 09:00: ran one"]


def test_same_prose_line_on_both_sides_is_a_conflict(tmp_path: Path) -> None:
    ours = BASE.replace("More prose.", "Ours.").replace("- [ ] one", "- [x] one")
    theirs = BASE.replace("More prose.", "Theirs.").replace("- [ ] two", "- [x] two")
    text, conflicts = _m(BASE, ours, theirs)
    assert conflicts == 1
    assert "<<<<<<< " in text and "Ours.\n=======\nTheirs.\n>>>>>>> " in text
    assert "- [x] one\n- [x] two\n" in text  # the rest still merged
    files = []
    for name, body in (("base", BASE), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_text(body)
        files.append(str(tmp_path / name))
    assert main(["merge-file", *files, PATH]) == 1
    assert (tmp_path / "ours").read_text() == text


def test_a_criterion_edited_on_one_side_and_ticked_on_the_other_conflicts() -> None:
    ours = BASE.replace("- [ ] two", "- [x] two")
    theirs = BASE.replace("- [ ] two", "- [ ] two, reworded")
    text, conflicts = _m(BASE, ours, theirs)
    assert conflicts == 1 and "- [x] two\n=======\n- [ ] two, reworded\n" in text


def test_crlf_and_bom_are_kept() -> None:
    def crlf(s: str) -> str:
        return "\ufeff" + s.replace("\n", "\r\n")
    ours = BASE.replace("- [ ] one", "- [x] one").replace(
        "created\n", "created\n- 2024-05-03 09:00: ran one\n")
    theirs = BASE.replace("- [ ] two", "- [x] two").replace(
        "created\n", "created\n- 2024-05-02 09:00: did two\n").replace("More prose.", "Prose!")
    text, conflicts = _m(crlf(BASE), crlf(ours), crlf(theirs))
    assert conflicts == 0 and text.startswith("\ufeff---\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.endswith("created\r\n- 2024-05-02 09:00: did two\r\n- 2024-05-03 09:00: ran one\r\n")
    assert "- [x] one\r\n- [x] two\r\n" in text and "Prose!\r\n" in text


def test_a_log_section_added_on_one_side() -> None:
    base = BASE[: BASE.index("## Progress Log")].rstrip("\n") + "\n"
    ours = base.replace("- [ ] one", "- [x] one") + "\n## Progress Log\n\n- 2024-05-03 09:00: ran\n"
    theirs = base.replace("More prose.", "Other prose.")
    text, conflicts = _m(base, ours, theirs)
    assert conflicts == 0 and "Other prose." in text
    assert _log(text) == ["2024-05-03 09:00: ran"]


def test_an_unusable_side_gets_plain_git_merge_file() -> None:
    bad = BASE.replace("title: Merge me", "title: [unclosed")
    ours = bad.replace("More prose.", "Ours.")
    text, conflicts = _m(bad, ours, bad.replace("- [ ] three", "- [ ] Their prose"))
    assert conflicts == 0 and "Ours." in text and "Their prose" in text
    _, conflicts = _m(bad, bad.replace("created", "a"), bad.replace("created", "b"))
    assert conflicts == 1


def test_merge_file_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ours").write_text(BASE)
    missing = tmp_path / "nope"
    assert main(["merge-file", str(missing), str(tmp_path / "ours"), str(tmp_path / "ours"),
                 PATH]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"taskbot: {missing}: cannot read") and err.count("\n") == 1


def test_reapply_merges_and_keeps_the_persons_criterion() -> None:
    edit = taskfile.Edit(ticks=(taskfile.Tick("two", 0),), updated="2024-05-03",
                         log=("2024-05-03 09:00: ran two",))
    mine = taskfile.apply(BASE.encode(), edit, PATH).data
    branch = BASE.replace("More prose.", "Edited.").replace(
        "created\n", "created\n- 2024-05-02 10:00: a person\n").encode()
    done = reapply(BASE.encode(), branch, mine, edit, PATH)
    text = done.data.decode()
    assert done.ticked == ("two",) and not done.missing
    assert "Edited." in text and "- [x] two" in text and "updated: 2024-05-03" in text
    assert _log(text)[1:] == ["2024-05-02 10:00: a person", "2024-05-03 09:00: ran two"]
    rechecked = BASE.replace("- [ ] two", "- [x] two").encode()
    kept = reapply(BASE.encode(), rechecked, mine, edit, PATH)
    assert kept.missing == ("two",) and kept.data == rechecked


def test_init_clone_uses_the_configured_tasks_folder(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    config = tmp_path / "taskbot.toml"
    config.write_text(STARTER_CONFIG.replace('tasks_dir = "tasks/active"',
                                             'tasks_dir = "ops/tasks/active"'))
    assert main(["init", "--config", str(config), "--clone", str(clone)]) == 0
    out = capsys.readouterr().out
    assert "no remote 'origin'" in out and not config.read_text().count("ops/tasks/**")
    assert (clone / ".git/info/attributes").read_text() == "ops/tasks/**/*.md merge=taskbot\n"
    assert main(["init", "--clone", str(tmp_path / "nowhere")]) == 2


SMOKE = "- [ ] Smoke <!-- taskbot: shell project=demo -->\n"
GROUPS = BASE.replace("- [ ] one\n- [ ] two\n- [ ] three\n",
                      f"### Staging\n- [x] Staging is up\n{SMOKE}### Prod\n- [x] Prod is up\n{SMOKE}")
CANARY = f"### Canary\n- [x] Canary is up\n{SMOKE}"


def test_a_tick_stays_on_its_line_when_the_other_side_adds_one_that_reads_the_same(
        tmp_path: Path) -> None:
    """taskbot ticked Prod's Smoke; the person added a Canary Smoke above both, and ticked
    Staging's: the merge ticks Prod's and Staging's, never the person's new line."""
    prod = "- [x] Prod is up\n"
    ours = GROUPS.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    staging = "- [x] Staging is up\n"
    theirs = GROUPS.replace("### Staging\n", CANARY + "### Staging\n").replace(
        staging + SMOKE, staging + SMOKE.replace("[ ]", "[X]"))
    files = []
    for name, body in (("base", GROUPS), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_text(body)
        files.append(str(tmp_path / name))
    assert main(["merge-file", *files, PATH]) == 0
    assert (tmp_path / "ours").read_text() == theirs.replace(
        prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    # the same with the sides the other way round
    text, conflicts = _m(GROUPS, theirs, ours)
    assert conflicts == 0 and text == (tmp_path / "ours").read_text()


def test_identical_lines_on_both_sides_each_keep_their_own_tick() -> None:
    staging, prod = "- [x] Staging is up\n", "- [x] Prod is up\n"
    first = GROUPS.replace(staging + SMOKE, staging + SMOKE.replace("[ ]", "[x]"))
    second = GROUPS.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    both = first.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]"))
    assert _m(GROUPS, first, second) == (both, 0)
    # a person who unticks the first while taskbot ticks the second
    assert _m(first, GROUPS, both) == (second, 0)


def _entries(n: int, first: int, who: str) -> str:
    """`n` timed log entries, a minute apart every other minute from minute `first`."""
    out = []
    for k in range(n):
        day, minute = divmod(first + 2 * k, 24 * 60)
        out.append(f"- 2024-{5 + day // 28:02d}-{1 + day % 28:02d} "
                   f"{minute // 60:02d}:{minute % 60:02d}: {who} {k}\n")
    return "".join(out)


def test_eight_thousand_log_entries_a_side_merge_in_one_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides' entries interleaved by time, each once; the placement reads each entry's
    time a bounded number of times (it used to scan the whole log for each new entry:
    8,000 a side took half a minute, and a person's `git pull` hung)."""
    n = 8000
    ours = BASE.replace("- [ ] one", "- [x] one").replace("2024-05-01\n", "2024-05-09\n", 1) \
        + _entries(n, 1, "taskbot")
    theirs = BASE.replace("- [ ] two", "- [x] two").replace("2024-05-01\n", "2024-05-08\n", 1) \
        + _entries(n, 2, "person")
    ours, theirs = (side.replace("- 2024-05-01 10:00: created\n", "- 2024-05-01 00:00: created\n")
                    for side in (ours, theirs))
    base = BASE.replace("- 2024-05-01 10:00: created\n", "- 2024-05-01 00:00: created\n")
    reads = 0
    timed = merge_module._Entry.time

    def counted(self: object) -> str | None:
        nonlocal reads
        reads += 1
        return timed.fget(self)  # type: ignore[misc]

    monkeypatch.setattr(merge_module._Entry, "time", property(counted))
    text, conflicts = _m(base, ours, theirs)
    assert conflicts == 0
    assert reads <= 4 * (2 * n + 1)
    log = text.split("## Progress Log\n", 1)[1].splitlines()
    assert len(log) == 2 * n + 1 and log == sorted(log)
    assert log[:3] == ["- 2024-05-01 00:00: created", "- 2024-05-01 00:01: taskbot 0",
                       "- 2024-05-01 00:02: person 0"]
    assert "- [x] one\n- [x] two\n- [ ] three\n" in text and "updated: 2024-05-09\n" in text


@pytest.mark.parametrize("change", [
    ("- [x] Prod is up\n" + SMOKE, "- [x] Prod is up\n"),  # removed
    ("- [x] Prod is up\n" + SMOKE, "- [x] Prod is up\n" + SMOKE.replace("Smoke", "Smoke now")),
    ("- [x] Prod is up\n" + SMOKE, "- [x] Prod is up\n" + SMOKE.replace("[ ]", "[x]")),
])
def test_reapply_changes_nothing_when_the_line_that_ran_changed(change: tuple[str, str]) -> None:
    """Prod's Smoke ran; the person removed, edited or ticked that very line: the branch is
    left as the person made it, though Staging's Smoke still reads the same."""
    smoke = SMOKE[6:].strip()
    edit = taskfile.Edit(ticks=(taskfile.Tick(smoke, 1),), updated="2024-05-03",
                         log=("2024-05-03 09:00: Done: Smoke (under Prod)",))
    mine = taskfile.apply(GROUPS.encode(), edit, PATH).data
    branch = GROUPS.replace(*change).encode()
    kept = reapply(GROUPS.encode(), branch, mine, edit, PATH)
    assert kept.data == branch and kept.missing == (smoke,) and kept.ticked == ()


def test_reapply_onto_a_person_who_added_an_identical_line_above() -> None:
    smoke = SMOKE[6:].strip()
    edit = taskfile.Edit(ticks=(taskfile.Tick(smoke, 1),), updated="2024-05-03",
                         log=("2024-05-03 09:00: Done: Smoke (under Prod)",))
    mine = taskfile.apply(GROUPS.encode(), edit, PATH).data
    branch = GROUPS.replace("### Staging\n", CANARY + "### Staging\n")
    done = reapply(GROUPS.encode(), branch.encode(), mine, edit, PATH)
    prod = "- [x] Prod is up\n"
    assert done.data.decode() == branch.replace(prod + SMOKE, prod + SMOKE.replace("[ ]", "[x]")) \
        .replace("updated: 2024-05-01", "updated: 2024-05-03") \
        .replace("created\n", "created\n- 2024-05-03 09:00: Done: Smoke (under Prod)\n")
    assert done.ticked == (smoke,) and done.missing == ()
