"""A replace ref (`refs/replace/<sha>`) anyone can push must not lend a trusted person's
signature to another commit: taskbot's git sees objects as they are (issue 9, review)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git.test_owncommits import TASK, _assert_refused, _forge_and_push, _process
from tests.kit.git import git, signing_sandbox

pytestmark = pytest.mark.integration


def test_a_replace_ref_does_not_make_an_unsigned_commit_signed(tmp_path: Path) -> None:
    box = signing_sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    _process(box, *box.commit_push("add task", "-S"))
    signed = git(box.bare, "rev-parse", "main~0")
    signed_by_becker = git(box.bare, "log", "--format=%H", "--author=becker", "-1", "main")
    assert signed_by_becker
    old, new, forged = _forge_and_push(box)
    # Mallory points her unsigned commits at Becker's signed one and pushes the replace refs.
    for sha in git(box.bare, "rev-list", f"{old}..{new}").split():
        git(box.clone, "replace", "-f", sha, signed_by_becker)
    git(box.clone, "push", "-q", "origin", "refs/replace/*:refs/replace/*")
    assert git(box.bare, "for-each-ref", "refs/replace/").strip()
    _assert_refused(box, _process(box, old, new), forged, "no valid ssh signature")
    assert signed  # the task's first commit was signed and trusted
