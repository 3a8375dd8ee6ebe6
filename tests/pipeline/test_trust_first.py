"""Trust is judged before anything reads a pushed file deeply: an untrusted file is never
parsed, whatever it holds; a shallow look only decides whether its refusal is reported."""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest

from bot import config as configmod
from bot.pipeline import Processed, Push, process
from bot.plugin.plugins import load_handlers
from bot.taskfile.shallow import brings_open_boxes
from tests.kit.git import Sandbox, sandbox

pytestmark = pytest.mark.integration

# the module (bot.taskfile re-exports its function `parse` under the same name)
parse_module = importlib.import_module("bot.taskfile.parse")

NOW = datetime(2026, 11, 26, 14, 30).astimezone()
MALLORY = ("--author", "Mallory <mallory@evil.example>")
# Frontmatter that is a YAML list: parsing it says "not a mapping".
UNUSABLE = ("---\n- a\n- b\n---\n## Acceptance Criteria\n"
            "- [ ] Run me <!-- taskbot: shell project=demo cmd=\"true\" -->\n")


def _process(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    return process(configmod.load(box.config), load_handlers(),
                   Push(old, new, "refs/heads/main"), now=NOW)


def test_an_untrusted_file_is_refused_for_its_author_without_being_parsed(tmp_path: Path
                                                                          ) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", UNUSABLE)
    old, new = box.commit_push("add", *MALLORY)
    # every parse goes through parse_cached, whichever module asks (parse, load, edit)
    with mock.patch.object(parse_module, "parse_cached",
                           side_effect=AssertionError("parsed")) as parse:
        results = _process(box, old, new)
    assert parse.call_count == 0
    assert len(results) == 1
    # The refusal names the author, not what a parse would have found.
    assert "mallory@evil.example is not in [trust] authors" in results[0].message
    assert "mapping" not in results[0].message
    assert box.log()[0].split()[1] == "mallory@evil.example"  # nothing committed


def test_an_untrusted_push_bringing_no_open_box_is_not_reported(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", UNUSABLE.replace("- [ ]", "- [x]"))
    old, new = box.commit_push("add", *MALLORY)
    assert _process(box, old, new) == ()


@pytest.mark.parametrize(("old", "new", "brings"), [
    (None, "- [ ] a\n", True),
    ("- [ ] a\n", "- [ ]   a\n", False),  # the same line, whitespace aside
    ("- [x] a\n", "- [ ] a\n", True),  # unticked
    ("- [ ] a\n", "- [ ] a\n- [ ] a\n", True),  # counted with multiplicity
    ("- [ ] a\n", "text\n- [x] a\n", False),
    (None, "- - 1. [ ] nested on one line\n", True),
    (None, "- [~] other mark\n  [ ] not at the start\n", False),
])
def test_the_shallow_look(old: str | None, new: str, brings: bool) -> None:
    assert brings_open_boxes(None if old is None else old.encode(), new.encode()) is brings


def test_the_shallow_look_is_linear_on_its_worst_line() -> None:
    # Markers repeated with no box after them: every repetition starts with a marker, so a
    # failed match gives back nothing; a backtracking pattern takes minutes here.
    line = ("- " * 200_000) + "x\n"
    assert brings_open_boxes(None, line.encode()) is False
