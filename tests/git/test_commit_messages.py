"""bot.git.messages.build: subject, body, trailers by git interpret-trailers rules, read back
by real git; the GitOps handlers build their messages with it (bot.api.gitops_commit_message)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.api import gitops_commit_message
from bot.git.messages import build


def test_layout() -> None:
    message = build("taskbot(TASK-1): web image tag 0.1.17 → 0.1.18",
                    ["- apps/web.yaml:9: HelmRelease web: image tag: 0.1.17 → 0.1.18"],
                    {"Task-Id": "TASK-1", "Taskbot-Run": "run-1"})
    assert message == ("taskbot(TASK-1): web image tag 0.1.17 → 0.1.18\n\n"
                       "- apps/web.yaml:9: HelmRelease web: image tag: 0.1.17 → 0.1.18\n\n"
                       "Task-Id: TASK-1\nTaskbot-Run: run-1\n")
    assert gitops_commit_message is build


def test_no_body_no_trailers() -> None:
    assert build("subject", [], {"Task-Id": "T"}) == "subject\n\nTask-Id: T\n"
    assert build("subject", ["body"], {}) == "subject\n\nbody\n"


def test_control_characters_cannot_forge_lines() -> None:
    message = build("a\nb", ["x\n\nTask-Id: EVIL", "tab\there\x07"],
                    {"Task-Id": "T\nTaskbot-Run: forged", "Taskbot-Run": "r\u2028s"})
    assert message == ("a\\nb\n\nx\\n\\nTask-Id: EVIL\ntab\\there\\x07\n\n"
                       "Task-Id: T\\nTaskbot-Run: forged\nTaskbot-Run: r\\u2028s\n")


@pytest.mark.parametrize("key", ["", "Task Id", "Task-Id:", "-x", "Tâsk"])
def test_bad_trailer_keys(key: str) -> None:
    with pytest.raises(ValueError, match="is not a trailer key"):
        build("s", [], {key: "v"})


def test_empty_subject() -> None:
    with pytest.raises(ValueError, match="empty subject"):
        build("  ", ["body"], {})


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_reads_the_trailers_back() -> None:
    message = build("taskbot(T-2): registry a → b", ["- tasks: docs/architecture.md:3: a → b",
                                                     "- Not-A-Trailer: in the body"],
                    {"Task-Id": "T-2", "Taskbot-Run": "run 2 \x1b[31m"})
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, text=True,
                            capture_output=True, check=True).stdout
    assert parsed == "Task-Id: T-2\nTaskbot-Run: run 2 \\x1b[31m\n"
