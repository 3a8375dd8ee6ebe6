"""Issue 17: what one task file can cost. Parsing is linear, a file past a limit is refused
with the limit it passed, and a dependency lookup stays in the task's repository.

No test is timed: each asserts a structural property (the refusal at limit + 1, the
number of patterns compiled, the number of walks), or parses a file the old quadratic
code took minutes on, so pytest's per-test timeout fails it there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import TaskFileError
from bot.taskfile import limits, lookup, parse
from tests.kit.daemon import REPO_ROOT, env_for

PATH = "tasks/active/X-1.md"
AC = "# X-1\n\n## Acceptance Criteria\n"


def _refused(text: str) -> str:
    with pytest.raises(TaskFileError) as caught:
        parse(text.encode(), PATH)
    reason = str(caught.value)
    assert "\n" not in reason
    return reason


# --------------------------------------------------------------------------- limits


def test_lines_past_the_limit_are_refused_with_the_limit() -> None:
    at = AC + "x\n" * (limits.MAX_LINES - 3)
    assert parse(at.encode(), PATH).id == "X-1"
    assert _refused(at + "x\n") == (f"{PATH}: {limits.MAX_LINES + 1:,} lines, more than the "
                                    f"{limits.MAX_LINES:,} taskbot reads")


def test_headings_past_the_limit_are_refused() -> None:
    at = AC + "- [ ] c\n" + "### h\n" * (limits.MAX_HEADINGS - 2)
    assert len(parse(at.encode(), PATH).sections) == limits.MAX_HEADINGS
    assert _refused(at + "### h\n") == (f"{PATH}: {limits.MAX_HEADINGS + 1:,} headings, more "
                                        f"than the {limits.MAX_HEADINGS:,} taskbot reads")


def test_criteria_past_the_limit_are_refused() -> None:
    at = AC + "- [ ] c\n" * limits.MAX_CRITERIA
    assert len(parse(at.encode(), PATH).criteria) == limits.MAX_CRITERIA
    assert _refused(at + "- [ ] c\n") == (f"{PATH}: {limits.MAX_CRITERIA + 1:,} criteria, more "
                                          f"than the {limits.MAX_CRITERIA:,} taskbot reads")


def test_criteria_groups_past_the_limit_are_refused() -> None:
    def groups(n: int) -> str:
        return AC + "".join(f"### Group {k}\n- [ ] c\n" for k in range(n))

    assert len(parse(groups(limits.MAX_GROUPS).encode(), PATH).criteria) == limits.MAX_GROUPS
    assert _refused(groups(limits.MAX_GROUPS + 1)) == (
        f"{PATH}: {limits.MAX_GROUPS + 1:,} criteria groups, more than the "
        f"{limits.MAX_GROUPS:,} taskbot reads")


def test_dependency_items_past_the_limit_are_refused() -> None:
    head = AC + "- [ ] c\n\n## Dependencies\n"
    at = head + "".join(f"- DEP-{k}\n" for k in range(limits.MAX_DEPENDENCIES))
    assert len(parse(at.encode(), PATH).dependencies) == limits.MAX_DEPENDENCIES
    assert _refused(at + "- DEP-0\n") == (
        f"{PATH}: {limits.MAX_DEPENDENCIES + 1:,} dependency items, more than the "
        f"{limits.MAX_DEPENDENCIES:,} taskbot reads")


def test_a_long_dependency_line_is_refused_with_its_line() -> None:
    head = AC + "- [ ] c\n\n## Dependencies\n"
    line = "- DEP-1 " + "x" * (limits.MAX_DEPENDENCY_LINE - 6)
    assert parse((head + line + "\n").encode(), PATH).dependencies == ("DEP-1",)
    assert _refused(head + line + "x\n") == (
        f"{PATH}: line 7: {limits.MAX_DEPENDENCY_LINE + 1:,} characters name a dependency, "
        f"more than the {limits.MAX_DEPENDENCY_LINE:,} taskbot reads")


def test_frontmatter_past_the_limit_is_refused() -> None:
    def with_frontmatter(size: int) -> str:
        return "---\n" + "k: " + "v" * (size - 4) + "\n---\n" + AC

    assert parse(with_frontmatter(limits.MAX_FRONTMATTER_BYTES).encode(), PATH).has_frontmatter
    assert _refused(with_frontmatter(limits.MAX_FRONTMATTER_BYTES + 1)) == (
        f"{PATH}: {limits.MAX_FRONTMATTER_BYTES + 1:,} bytes of frontmatter, more than the "
        f"{limits.MAX_FRONTMATTER_BYTES:,} taskbot reads")


def test_inline_markup_past_the_budget_is_refused() -> None:
    heading = "## [" + "*" * (limits.MAX_INLINE_CHARS - 1) + "\n"  # inline content: [ + stars
    assert parse((AC + heading).encode(), PATH).sections[-1].level == 2
    assert _refused(AC + heading.replace("[", "[[")).startswith(
        f"{PATH}: {limits.MAX_INLINE_CHARS + 1:,} characters of headings and annotated "
        "criteria")


# ------------------------------------------------------- shapes the old code took minutes on


def test_groups_times_dependencies_compile_no_pattern_per_pair(monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    compiled: list[str] = []
    real = re._compile  # type: ignore[attr-defined]

    def counting(pattern: str, flags: int) -> re.Pattern[str]:
        compiled.append(pattern)
        return real(pattern, flags)  # type: ignore[no-any-return]

    text = (AC + "".join(f"### Group {k}\n- [ ] c\n" for k in range(150))
            + "\n## Dependencies\n" + "".join(f"- DEP-{k} for Group {k % 150}\n"
                                              for k in range(600)))
    monkeypatch.setattr(re, "_compile", counting)
    task = parse(text.encode(), "tasks/active/GROUPS-1.md")
    assert [d.groups for d in task.dependency_items[:3]] == [("Group 0",), ("Group 1",),
                                                            ("Group 2",)]
    assert task.dependency_items[151].groups == ("Group 1",)  # not "Group 1x" or "Group 10"
    assert len(compiled) < 20, f"{len(compiled)} patterns compiled for 150 groups × 600 items"


def test_a_line_of_annotation_openers_parses() -> None:
    # 13.5 s at 112 KB with the backtracking pattern, quadratic: minutes at 512 KB
    line = "- [ ] " + "x <!--taskbot:" * (512 * 1024 // 14) + "\n"
    (criterion,) = parse((AC + line).encode(), PATH).criteria
    assert criterion.annotation is None
    assert criterion.text.startswith("x <!--taskbot:x <!--taskbot:")


def test_a_heading_of_hashes_in_dependencies_parses() -> None:
    # `(.*?)[ \t#]*$` backtracked: 2.7 s at 16 KB, quadratic: hours at 512 KB
    text = (AC + "- [ ] c\n\n## Dependencies\n### Blocks" + " #" * (256 * 1024) + "x\n"
            "- DEP-1\n")
    (item,) = parse(text.encode(), PATH).dependency_items
    assert (item.depends, item.why) == (False, "Blocks")


def test_a_trailing_annotation_is_still_read_as_before() -> None:
    text = AC + "- [ ] a <!-- x --> b <!-- taskbot: shell cmd=\"ls --all\" -->  \n"
    (criterion,) = parse(text.encode(), PATH).criteria
    assert criterion.annotation == 'shell cmd="ls --all"'
    assert criterion.text == "a <!-- x --> b"
    closed_early = AC + "- [ ] a <!-- taskbot: x --> y -->\n"
    assert parse(closed_early.encode(), PATH).criteria[0].annotation is None


# --------------------------------------------------------------------------- lookup


def _task(deps: list[str], title: str = "X", checked: bool = False) -> str:
    box = "x" if checked else " "
    return (f"# {title}\n\n## Acceptance Criteria\n- [{box}] a\n\n## Dependencies\n"
            + "".join(f"- {d}\n" for d in deps))


def test_plan_in_a_repository_does_not_look_outside_it(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "X-1.md").write_text(_task(["DEP-1"]))
    decoy = tmp_path / "decoy"  # beside the repository, where the old root (repo/..) reached
    decoy.mkdir()
    (decoy / "DEP-1.md").write_text(_task([], "DEP-1", checked=True))
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(repo / "X-1.md")]) == 0
    out = capsys.readouterr().out
    assert "depends on DEP-1: WAITING: no task DEP-1 under repo/" in out
    (repo / "DEP-1.md").write_text(_task([], "DEP-1", checked=True))
    assert main(["plan", str(repo / "X-1.md")]) == 0
    assert "WAITING" not in capsys.readouterr().out


def test_plan_lists_the_tasks_root_once_for_all_its_dependencies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "outside" / "active"
    folder.mkdir(parents=True)
    ids = [f"ZZQ-{n}" for n in range(8)]
    (folder / "X-1.md").write_text(_task(ids))
    walks: list[object] = []
    real = lookup._walk  # os.walk's way, without its recursion

    def counting(top: Path) -> object:
        walks.append(top)
        return real(top)

    monkeypatch.setattr(lookup, "_walk", counting)
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(folder / "X-1.md")]) == 0
    out = capsys.readouterr().out
    assert all(f"no task {i} under outside/" in out for i in ids), out
    assert walks == [folder.parent]


def test_the_listing_outside_a_repository_is_bounded(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tasks"
    for n in range(30):
        (root / f"f{n:02d}").mkdir(parents=True)
        (root / f"f{n:02d}" / f"T-{n}.md").write_text(_task([]))
    monkeypatch.setattr(lookup, "MAX_ENTRIES", 10)
    state = lookup.dependency_state("T-29", root)
    assert not state.complete
    assert state.where == "no task T-29 in the first 10 entries under tasks/"


# --------------------------------------------------------------------------- bench


@pytest.mark.integration
def test_hostile_parse_bench_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "hostile_parse.py"),
                           "--smoke"], capture_output=True, text=True, cwd=tmp_path,
                          env=env_for(None), check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.splitlines()
    for shape in ("groups_x_deps", "annotation_openers", "many_headings", "nul_bytes"):
        assert any(line.startswith(f"hostile_parse.{shape}.limit: ") for line in printed)
    assert printed[-1].startswith("hostile_parse.missed: ")
