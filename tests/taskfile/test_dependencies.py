"""Issue 10: what a Dependencies section means — labels, lead-ins, group scope, cycles.

The sections are written the way real task files write them (the issue's examples and
the corpus's shapes); `taskbot plan` and `taskbot run` are driven as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.taskfile import parse
from tests.kit.config import local_workspace

LABELLED = """\
# TASK-005

## Dependencies

**Blocked By:**
- TASK-007 (secret re-encryption must land first)

**Blocks:**
- TASK-008: Flux reconciliation

**Unblocks:**
- TASK-003

**Related:**
- TASK-004 (independent cleanup)
"""

LEAD_INS = """\
# TASK-009

## Dependencies

- **TASK-001**: Must be completed first (registry IP configuration)
- Depends on TASK-002
- Requires: TASK-010
- See TASK-011
- See also TASK-012
- After TASK-013 lands
- TASK-014 (optional)
- Needs TASK-015
- TASK-016

## Blocks

- TASK-017
"""


def _kinds(text: str) -> dict[str, bool]:
    return {d.task_id: d.depends for d in parse(text.encode(), "t.md").dependency_items}


def test_labels_decide_what_is_a_dependency() -> None:
    assert _kinds(LABELLED) == {"TASK-007": True, "TASK-008": False, "TASK-003": False,
                                "TASK-004": False}
    assert parse(LABELLED.encode(), "t.md").dependencies == ("TASK-007",)


def test_lead_ins_and_sections_of_their_own() -> None:
    assert _kinds(LEAD_INS) == {
        "TASK-001": True, "TASK-002": True, "TASK-010": True, "TASK-011": False,
        "TASK-012": False, "TASK-013": True, "TASK-014": False, "TASK-015": True,
        "TASK-016": True, "TASK-017": False}


def test_bold_label_lines_with_their_ids_and_sub_headings() -> None:
    text = ("## Dependencies\n**Blocks:** TASK-020, TASK-021\n**Blocked by:** TASK-022\n"
            "Some prose naming TASK-023.\n\n### Depends on\n- TASK-024\n### Related\n- TASK-025\n")
    assert _kinds(text) == {"TASK-020": False, "TASK-021": False, "TASK-022": True,
                            "TASK-024": True, "TASK-025": False}


TASK_002 = """\
---
id: TASK-002
title: Release
---
# TASK-002

## Acceptance Criteria
### Registry
- [ ] Registry step <!-- taskbot: shell project=demo cmd="touch registry-done" -->
### Triager
- [ ] Triager step <!-- taskbot: shell project=demo cmd="touch triager-done" -->

## Dependencies
- **TASK-005**: Triager build failure must be resolved
"""

TASK_005 = """\
---
id: TASK-005
title: Triager build
---
# TASK-005

## Acceptance Criteria
- [ ] Fix the triager build
"""


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path]:
    config, path = local_workspace(tmp_path, "TASK-002.md", TASK_002)
    (path.parent / "TASK-005.md").write_text(TASK_005)
    return config, path


def test_a_dependency_naming_a_group_holds_only_that_group(
        release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, path = release
    assert main(["--config", str(config), "plan", "TASK-002", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dependencies"][0]["groups"] == ["Triager"]
    waits = {c["text"]: c.get("waits_on") for c in doc["criteria"]}
    assert waits == {"Registry step": None, "Triager step": "waiting for TASK-005"}
    assert main(["--config", str(config), "plan", "TASK-002"]) == 0
    text = capsys.readouterr().out
    assert "depends on TASK-005 for group Triager" in text and "waiting for TASK-005" in text

    code = main(["--config", str(config), "run", "TASK-002", "--no-notify"])
    out = capsys.readouterr().out
    assert code == 1  # the task still waits
    assert (tmp_path / "demo" / "registry-done").exists()
    assert not (tmp_path / "demo" / "triager-done").exists()
    after = path.read_text()
    assert "- [x] Registry step" in after and "- [ ] Triager step" in after
    assert "waiting for TASK-005" in out


def test_unlabelled_dependency_still_holds_the_whole_task(tmp_path: Path) -> None:
    task = TASK_002.replace("- **TASK-005**: Triager build failure must be resolved",
                            "- TASK-005")
    config, path = local_workspace(tmp_path, "TASK-002.md", task)
    (path.parent / "TASK-005.md").write_text(TASK_005)
    assert main(["--config", str(config), "run", "TASK-002", "--no-notify"]) == 1
    assert not (tmp_path / "demo" / "registry-done").exists()
    assert path.read_text() == task  # nothing ran, nothing written


CYCLE = """\
---
id: {me}
title: {me}
---
# {me}

## Acceptance Criteria
- [ ] Step <!-- taskbot: shell project=demo cmd="true" -->

## Dependencies

**Blocked By:**
- {other}
"""


def test_a_cycle_is_named_in_plan_and_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, path = local_workspace(tmp_path, "TASK-006.md", CYCLE.format(me="TASK-006",
                                                                        other="TASK-007"))
    (path.parent / "TASK-007.md").write_text(CYCLE.format(me="TASK-007", other="TASK-006"))
    assert main(["--config", str(config), "plan", "TASK-006"]) == 0
    assert "TASK-006 and TASK-007 wait on each other" in capsys.readouterr().out
    assert main(["--config", str(config), "run", "TASK-006", "--no-notify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert "TASK-006 and TASK-007 wait on each other" in json.dumps(report)


def test_blocks_in_one_task_and_blocked_by_in_the_other_is_no_cycle(tmp_path: Path) -> None:
    first = CYCLE.format(me="TASK-006", other="TASK-007")  # 006 is blocked by 007
    second = CYCLE.format(me="TASK-007", other="TASK-006").replace("Blocked By", "Blocks")
    config, path = local_workspace(tmp_path, "TASK-007.md", second)
    (path.parent / "TASK-006.md").write_text(first)
    assert main(["--config", str(config), "run", "TASK-007", "--no-notify"]) == 0
    assert "- [x] Step" in path.read_text()


def test_a_missing_dependency_names_no_internal_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = CYCLE.format(me="TASK-006", other="TASK-404")
    config, _ = local_workspace(tmp_path, "TASK-006.md", task)
    main(["--config", str(config), "plan", "TASK-006"])
    line = next(x for x in capsys.readouterr().out.splitlines() if "TASK-404" in x)
    assert line == "depends on TASK-404 (Blocked By): WAITING: no task TASK-404 under tasks/"


WAITER = """\
---
id: TASK-030
title: Waits
---
# TASK-030

## Acceptance Criteria
- [ ] Step <!-- taskbot: shell project=demo cmd="true" -->

## Dependencies
- DEP-1
"""

DEP = """\
---
id: DEP-1
title: Dependency
---
# DEP-1

## Acceptance Criteria
- [ ] Done by a person
"""


@pytest.mark.integration
def test_a_waiter_that_moved_to_completed_is_dropped_quietly(tmp_path: Path) -> None:
    from bot import config as configmod
    from bot.pipeline import Push, process
    from bot.plugin.plugins import load_handlers
    from tests.kit.git import git, sandbox
    from tests.pipeline.test_pipeline import NOW

    box = sandbox(tmp_path)
    config = configmod.load(box.config)

    def push(message: str) -> tuple[str, ...]:
        old, new = box.commit_push(message)
        done = process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)
        return tuple(m for p in done for m in (p.message, *p.reruns) if m)

    box.write("tasks/active/TASK-030.md", WAITER)
    box.write("tasks/active/DEP-1.md", DEP)
    push("add a waiting task and its dependency")
    waiting = json.loads((box.root / "state" / "waiting.json").read_text())
    assert waiting == {"TASK-030": ["DEP-1"]}
    (box.clone / "tasks/completed").mkdir(parents=True)
    git(box.clone, "mv", "tasks/active/TASK-030.md", "tasks/completed/TASK-030.md")
    push("done by hand")
    box.write("tasks/active/DEP-1.md", DEP.replace("- [ ]", "- [x]"))
    said = push("dependency done")
    assert json.loads((box.root / "state" / "waiting.json").read_text()) == {}
    assert "TASK-030" not in said  # not queued again
    assert not any(str(box.root) in m for m in said)


def test_phrasings_that_turn_the_meaning_round() -> None:
    text = ("## Dependencies\n"
            "- TASK-7: must be completed first; the optional smoke test can wait\n"
            "- Required by TASK-9\n"
            "- Must be completed before TASK-10\n"
            "- Prerequisite for TASK-11\n"
            "- TASK-12 (optional)\n"
            "<!--\n- TASK-14\n-->\n\n"
            "    - TASK-15 in an indented code block\n")
    assert _kinds(text) == {"TASK-7": True, "TASK-9": False, "TASK-10": False,
                            "TASK-11": False, "TASK-12": False}


def test_a_word_in_an_items_description_does_not_overrule_its_label() -> None:
    """Only what follows the id straight away speaks for the item: `needs` or `required` in
    its description leaves a `## Blocks` item blocking and an optional one optional."""
    text = ("## Blocks\n- TASK-9 (it needs the registry this task sets up)\n\n"
            "## Dependencies\n- TASK-3: optional, only required for the demo\n"
            "- TASK-5, which needs the new certificate\n\n"
            "## Related\n- TASK-7 — requires the new registry\n")
    assert _kinds(text) == {"TASK-9": False, "TASK-3": False, "TASK-5": True, "TASK-7": True}


def test_a_longer_file_name_is_not_the_task(tmp_path: Path) -> None:
    from bot.taskfile.lookup import dependency_state

    active = tmp_path / "tasks" / "active"
    active.mkdir(parents=True)
    (active / "DEP-1-notes.md").write_text("---\nid: DEP-1-notes\n---\n## Acceptance Criteria\n"
                                           "- [x] notes\n")
    assert not dependency_state("DEP-1", tmp_path / "tasks").complete  # not found: waits
    (active / "DEP-1.md").write_text("# DEP-1\n## Acceptance Criteria\n- [ ] open\n")
    state = dependency_state("DEP-1", tmp_path / "tasks")
    assert not state.complete and state.where == "1 criteria open in tasks/active/DEP-1.md"
    (active / "TASK-2-release.md").write_text("# T\n## Acceptance Criteria\n- [x] done\n")
    assert dependency_state("TASK-2", tmp_path / "tasks").complete  # id-slug names still work
