"""An untrusted push's files are looked at (never parsed) only to tell whether a refusal is
worth a report, and no more than a budget of bytes a push: past it, a file is refused
without a look, and its line says why (issue 17: no input of any size stalls taskbot)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.pipeline import Push, looks, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import git, sandbox

NOW = datetime(2026, 12, 7, 3, 30).astimezone()
MALLORY = ("--author", "Mallory <mallory@example.com>")


def _task(n: int) -> str:
    padding = f"Notes {n}: " + "x" * 2000 + "\n"  # ~2 KiB, each blob its own
    return (f"---\nid: M-{n}\n---\n# M-{n}\n\n{padding}\n## Acceptance Criteria\n"
            f"- [ ] Evil <!-- taskbot: shell project=demo cmd=\"touch {n}\" -->\n")


def test_past_the_budget_an_untrusted_file_is_refused_without_a_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(looks, "BUDGET", 5 * 1024)  # two of the six files
    box = sandbox(tmp_path)
    for n in range(6):
        box.write(f"tasks/active/M-{n}.md", _task(n))
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "--no-gpg-sign", *MALLORY, "-m", "six tasks")
    old = git(box.bare, "rev-parse", "main")
    git(box.clone, "push", "-q", "origin", "HEAD:main")
    new = git(box.bare, "rev-parse", "main")

    [refusal] = process(configmod.load(box.config), load_handlers(),
                        Push(old, new, "refs/heads/main"), now=NOW)

    assert refusal.report is not None and refusal.commit is None
    notes = refusal.report.notes
    assert len(notes) == 6 and all("mallory@example.com" in n for n in notes)
    assert [n.endswith(looks.NOT_LOOKED) for n in notes] == [False] * 2 + [True] * 4
    assert list((box.root / "demo").iterdir()) == []  # nothing ran
