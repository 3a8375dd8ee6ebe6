"""Hostile texts in what taskbot records: control characters escaped, sizes capped.

A NUL byte, an escape sequence or ten megabytes of output in a criterion, a reason or a
command's output must neither break the commit (git refuses NUL in a message) nor make
a note, a report or a notification of tens of megabytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.api import CommandRecord, Outcome, Status
from bot.git.messages import parse_trailers, task_commit
from bot.notify.targets import Message, _sized
from bot.proc import Redactor, run_command
from bot.run.actions import Action
from bot.run.report import Report, TaskInfo, to_json, to_markdown
from bot.run.runner import Result, State
from bot.taskfile import parse
from bot.text.textcap import FIELD_CAP, REPORT_CAP, cap, clean, escape_controls

HUGE = 10 << 20
TASK = "# T\n## Acceptance Criteria\n- [ ] Paint \x1b[31mred\x1b[0m\x7f\n- [ ] Fail\x1b]0;x\x07\n"


def _big_output(tmp_path: Path) -> CommandRecord:
    code = f"import sys; sys.stdout.write('x' * {HUGE} + '\\n')"
    record = run_command([sys.executable, "-c", code], str(tmp_path), timeout=60)
    assert record.exit_status == 0
    return record


def _report(tmp_path: Path) -> Report:
    paint, fail = parse(TASK.encode(), "tasks/active/T-1.md").criteria
    big = _big_output(tmp_path)
    long_line = CommandRecord(("echo", "y" * HUGE), str(tmp_path), 0, 0.1,
                              "z" * HUGE + "\r\x00\n", "")
    reason = "bad \x00 byte\r\n" + "r" * HUGE
    results = (
        Result(Action(paint, "shell", "annotation"), State.DONE,
               Outcome(Status.DONE, commands=(big, long_line), evidence=("e" * HUGE,)), 1),
        Result(Action(fail, "shell", "annotation"), State.FAILED,
               Outcome(Status.FAILED, reason, diagnosis=("d\x00" * HUGE,)), 2),
    )
    return Report(
        task=TaskInfo("T-1", "t\x00" * 10, "high", "active", "tasks/active/T-1.md"),
        result="partial", done=1, total=2, results=results,
        remaining=((fail.text, reason),), changes=(), progress_log=("- log \x00",),
        waiting_on=(), run_id="20260101T000000-abcdef",
    )


def test_markdown_report_is_capped_and_escaped(tmp_path: Path) -> None:
    started_report = _report(tmp_path)
    text = to_markdown(started_report, Redactor(("secret",)))
    assert len(text.encode()) <= REPORT_CAP
    assert "bytes cut)" in text
    assert not any(ch in text for ch in "\x00\x1b\x07\x7f\r")
    assert "Paint \\x1b\\[31mred\\x1b\\[0m\\x7f" in text  # `[` escaped as Markdown
    assert "bad \\x00 byte" in text
    # each field is cut on its own: the sections after a huge field are still there
    assert "## Next Steps" in text and "## Acceptance Criteria Remaining" in text
    assert max(len(line.encode()) for line in text.splitlines()) < 3 * FIELD_CAP


def test_json_report_is_capped_and_escaped(tmp_path: Path) -> None:
    doc = to_json(_report(tmp_path))
    text = json.dumps(doc, ensure_ascii=False)
    assert len(text.encode()) < REPORT_CAP
    first = doc["criteria"][0]
    assert first["text"] == "Paint \\x1b[31mred\\x1b[0m\\x7f"
    assert first["commands"][1]["output_tail"].endswith("\\r\\x00\n")
    assert doc["criteria"][1]["reason"].startswith("bad \\x00 byte\\r\n")


def test_commit_message_with_control_characters_is_accepted_by_git(tmp_path: Path) -> None:
    report = _report(tmp_path)
    message = task_commit(report, "abc1234 by person \x00\x1b")
    assert "\x00" not in message and "\x1b" not in message
    assert len(message.encode()) < 64 << 10
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}

    def git(*args: str, data: str | None = None) -> str:
        return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                              env=env, input=data, check=True, capture_output=True,
                              text=True).stdout

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", "-", data=message)
    stored = git("log", "-1", "--format=%B")
    parsed = git("interpret-trailers", "--parse", data=stored)
    trailers = dict(line.split(": ", 1) for line in parsed.splitlines())
    assert trailers["Task-Id"] == "T-1"
    assert trailers["Taskbot-Run"] == report.run_id
    assert trailers["Triggered-By"] == "abc1234 by person \\x00\\x1b"
    assert parse_trailers(stored) == trailers


def test_notification_title_and_body_are_capped_and_escaped() -> None:
    title, body = _sized(Message("t\x00" + "x" * HUGE, "b\x1b\n" + "y\n" * HUGE, "partial"))
    assert len(title.encode()) <= 2 << 10 and "\x00" not in title
    assert len(body.encode()) <= REPORT_CAP and body.startswith("b\\x1b\n")
    assert body.endswith("bytes cut: larger than 256 KiB)\n")


def test_cap_keeps_whole_characters_and_says_how_much_was_cut() -> None:
    assert cap("é" * 10, 5) == "éé… (16 bytes cut)"
    assert cap("abcdef", 3, keep_end=True) == "(3 bytes cut) …def"
    assert cap("short") == "short"
    assert clean("a" * 10_000, limit=4096) == "a" * 4096 + "… (5904 bytes cut)"
    assert clean("\x00" * 10_000, limit=8) == "\\x00\\x00… (10016 bytes cut)"
    assert clean("x" * 10 + "\x00", limit=4, keep_end=True) == "(10 bytes cut) …\\x00"
    assert escape_controls("a\x00\tb\n\x85\u2028") == "a\\x00\tb\n\\x85\u2028"
