"""Issue 20: `plan`'s dependency lines are one judgement — a clone's file and hook mode
(the bare repository's branch, read without a checkout) say the same for the same tree.

Made-up task files in the operator's shapes: "Required for" lists, a dependency the task
calls done while its file has open boxes, and a cycle through two other tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.kit.git import Sandbox, sandbox

pytestmark = pytest.mark.integration


def _task(me: str, deps: str, boxes: int = 1) -> str:
    criteria = "".join(f"- [ ] Step {n} <!-- taskbot: shell project=demo cmd=\"true\" -->\n"
                       for n in range(boxes))
    return (f"---\nid: {me}\ntitle: {me}\n---\n# {me}\n\n## Acceptance Criteria\n"
            f"{criteria}\n## Dependencies\n{deps}")


REGISTRY = _task("TASK-005", "- **Required For:** TASK-002, TASK-003\n"
                             "- TASK-006 – monitoring stack (COMPLETED ✅)\n"
                             "- **Blocked by:** TASK-007\n")

LINES = [
    "not a dependency: TASK-002 (Required For)",
    "not a dependency: TASK-003 (Required For)",
    "depends on TASK-006: completed, as this task says (its file has 18 open criteria)",
    "depends on TASK-007 (Blocked by): WAITING: TASK-005, TASK-007 and TASK-008 wait on "
    "each other in a cycle",
]


@pytest.fixture
def tree(tmp_path: Path) -> Sandbox:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-005.md", REGISTRY)
    for needing in ("TASK-002", "TASK-003"):
        box.write(f"tasks/active/{needing}.md", _task(needing, "- Blocked by TASK-005\n"))
    box.write("tasks/active/TASK-006.md", _task("TASK-006", "", boxes=18))
    box.write("tasks/active/TASK-007.md", _task("TASK-007", "- Blocked by TASK-008\n"))
    box.write("tasks/active/TASK-008.md", _task("TASK-008", "- Blocked by TASK-005\n"))
    box.commit_push("the operator's shapes")
    (tmp_path / "elsewhere").mkdir()
    return box


def _plan(box: Sandbox, task: str, capsys: pytest.CaptureFixture[str], *json_: str
          ) -> str:
    assert main(["--config", str(box.config), "plan", task, *json_]) == 0
    return capsys.readouterr().out


def test_a_clone_and_hook_mode_say_the_same(tree: Sandbox, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.root / "elsewhere")
    in_clone = _plan(tree, str(tree.clone / "tasks/active/TASK-005.md"), capsys)
    in_hook = _plan(tree, "TASK-005", capsys)
    assert f"{tree.bare} main:tasks/active/TASK-005.md" in in_hook.splitlines()[0]
    assert in_clone.splitlines()[1:5] == LINES
    assert in_hook.splitlines()[1:] == in_clone.splitlines()[1:]
    as_json = json.loads(_plan(tree, "TASK-005", capsys, "--json"))
    assert as_json["dependencies"][2]["trusted"] == LINES[2].split(": ", 1)[1]
    assert {c.get("waits_on") for c in as_json["criteria"]} == {LINES[3].split("WAITING: ")[1]}


def test_a_task_needed_by_another_waits_on_it(
        tree: Sandbox, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The reverse edge is not added, nor needed: TASK-002 waits on TASK-005 because its
    own file says so; TASK-005's "Required For" only keeps TASK-005 from waiting on it."""
    monkeypatch.chdir(tree.root / "elsewhere")
    in_hook = _plan(tree, "TASK-002", capsys)
    in_clone = _plan(tree, str(tree.clone / "tasks/active/TASK-002.md"), capsys)
    assert in_hook.splitlines()[1] == ("depends on TASK-005 (Blocked by): WAITING: 1 criteria "
                                       "open in tasks/active/TASK-005.md")
    assert in_hook.splitlines()[1:] == in_clone.splitlines()[1:]
