"""A push → detection → trust → run → bot commit on main, with real repos and `git push`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.pipeline import Processed, Push, Rerun, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import Sandbox, git, sandbox, signing_sandbox

pytestmark = pytest.mark.integration

TASK = """\
---
id: TASK-001
title: Two shell criteria
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->
- [ ] Breaks <!-- taskbot: shell project=demo cmd="false" -->

## Progress Log
- 2026-01-01 10:00: created
"""

NOW = datetime(2026, 11, 26, 14, 30).astimezone()


def _process(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    config = configmod.load(box.config)
    return process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)


def _trailers(box: Sandbox, rev: str = "main") -> dict[str, str]:
    message = git(box.bare, "log", "-1", "--format=%B", rev)
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=message,
                            capture_output=True, text=True, check=True).stdout
    return dict(line.split(": ", 1) for line in parsed.splitlines())


def test_push_gives_one_bot_commit_with_trailers(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    results = _process(box, old, new)
    assert [r.task_id for r in results] == ["TASK-001"]
    log = box.log()
    assert len(log) == 3 and log[0].split()[1] == "taskbot@build-host"
    assert log[0].split(" ", 2)[2] == "taskbot(TASK-001): partial, 1/2 criteria done"
    trailers = _trailers(box)
    assert trailers["Task-Id"] == "TASK-001"
    assert trailers["Task-Result"] == "partial"
    assert trailers["Criteria-Done"] == "1/2"
    assert trailers["Triggered-By"] == new
    assert trailers["Taskbot-Run"] == results[0].report.run_id  # type: ignore[union-attr]
    text = box.main_file("tasks/active/TASK-001.md")
    assert "- [x] Works" in text and "- [ ] Breaks" in text
    assert "updated: 2026-11-26" in text
    assert "- 2026-11-26 14:30: Done: Works (true exited 0)" in text
    assert "- 2026-11-26 14:30: Failed: Breaks: false exited 1" in text
    diff = git(box.bare, "diff", "main~1", "main", "--stat")
    assert "1 file changed" in diff
    note = git(box.bare, "notes", "--ref=taskbot", "show", "main")
    assert note.startswith("# Task Execution Report: TASK-001")


def test_prose_or_tick_only_push_runs_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    _process(box, old, new)
    git(box.clone, "pull", "-q", "origin", "main")
    before = box.log()
    path = box.clone / "tasks/active/TASK-001.md"
    path.write_text(path.read_text().replace("# TASK-001\n", "# TASK-001\n\nSome prose.\n"))
    assert _process(box, *box.commit_push("prose")) == ()
    path.write_text(path.read_text().replace("- [ ] Breaks", "- [x] Breaks"))
    assert _process(box, *box.commit_push("tick by hand")) == ()
    assert len(box.log()) == len(before) + 2


def test_bot_own_push_triggers_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    _process(box, old, new)
    bot_tip = git(box.bare, "rev-parse", "main")
    assert _process(box, new, bot_tip) == ()
    assert git(box.bare, "rev-parse", "main") == bot_tip


def test_untrusted_author_runs_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task", "--author", "Mallory <mallory@evil.example>")
    results = _process(box, old, new)
    assert len(box.log()) == 2
    assert results[0].commit is None
    assert "mallory@evil.example is not in [trust] authors" in results[0].message
    assert new[:12] in results[0].message



@pytest.mark.parametrize("signed", [True, False])
def test_allowed_signers(tmp_path: Path, signed: bool) -> None:
    box = signing_sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task", "-S" if signed else "--no-gpg-sign")
    results = _process(box, old, new)
    if signed:
        assert results[0].commit is not None and len(box.log()) == 3
    else:
        assert results[0].commit is None and "no valid ssh signature" in results[0].message
        assert len(box.log()) == 2


def _with_criterion(box: Sandbox, text: str) -> str:
    return box.main_file("tasks/active/TASK-001.md").replace(
        "\n## Progress Log", f'- [ ] {text} <!-- taskbot: shell project=demo cmd="true" -->\n'
        "\n## Progress Log")


def test_a_signature_is_verified_once_for_the_signers_it_was_verified_against(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's whole history is checked on every push; its old signatures are not verified
    again, until allowed_signers changes. An unsigned commit is refused every time."""
    from bot.git import read

    verified: list[str] = []
    real = read.verify_commit

    def counted(repo: Path, sha: str, signers: str) -> bool:
        verified.append(sha)
        return real(repo, sha, signers)

    monkeypatch.setattr(read, "verify_commit", counted)
    box = signing_sandbox(tmp_path)
    (box.root / "state").mkdir(exist_ok=True)  # as `taskbot init` makes it
    box.write("tasks/active/TASK-001.md", TASK)
    old, first = box.commit_push("add task", "-S")
    assert _process(box, old, first)[0].commit is not None
    assert verified == [first]  # the pushed range; the file's history then finds it kept
    git(box.clone, "pull", "-q", "--ff-only")  # taskbot's tick
    box.write("tasks/active/TASK-001.md", _with_criterion(box, "More"))
    old, second = box.commit_push("a second edit", "-S")
    verified.clear()
    _process(box, old, second)
    assert verified == [second]  # the first commit's signature was kept
    signers = tmp_path / "allowed_signers"
    signers.write_text(signers.read_text() + "# a comment: other signers\n")
    git(box.clone, "pull", "-q", "--ff-only")
    box.write("tasks/active/TASK-001.md", _with_criterion(box, "Again"))
    old, third = box.commit_push("a third edit", "-S")
    verified.clear()
    _process(box, old, third)
    assert first in verified and second in verified  # verified afresh for the new signers


def _racing_task(box: Sandbox) -> str:
    started = box.root / "started.fifo"
    go = box.root / "go.fifo"
    os.mkfifo(started)
    os.mkfifo(go)
    return TASK.replace(
        'cmd="true"', f"cmd=\"sh -c 'echo > {started}; cat {go}'\"").replace(
        "- [ ] Breaks <!-- taskbot: shell project=demo cmd=\"false\" -->\n", "")


def _while_running(box: Sandbox, old: str, new: str, person_edit: str, replacement: str
                   ) -> tuple[Processed, ...]:
    results: list[tuple[Processed, ...]] = []
    worker = threading.Thread(target=lambda: results.append(_process(box, old, new)))
    worker.start()
    with open(box.root / "started.fifo") as fh:  # blocks until the criterion runs
        fh.read()
    path = box.clone / "tasks/active/TASK-001.md"
    path.write_text(path.read_text().replace(person_edit, replacement))
    box.commit_push("person edits while taskbot runs")
    with open(box.root / "go.fifo", "w") as fh:
        fh.write("go\n")
    worker.join(30)
    return results[0]


def test_person_edit_elsewhere_survives(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", _racing_task(box))
    old, new = box.commit_push("add task")
    results = _while_running(box, old, new, "title: Two shell criteria",
                             "title: Two shell criteria (edited)")
    text = box.main_file("tasks/active/TASK-001.md")
    assert "title: Two shell criteria (edited)" in text
    assert "- [x] Works" in text
    assert results[0].commit == git(box.bare, "rev-parse", "main")


def test_person_edit_of_ticked_line_wins_on_main(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", _racing_task(box))
    old, new = box.commit_push("add task")
    results = _while_running(box, old, new, "- [ ] Works", "- [ ] Works, edited by a person")
    text = box.main_file("tasks/active/TASK-001.md")
    assert "- [ ] Works, edited by a person" in text and "[x]" not in text
    kept = git(box.bare, "show", "taskbot/TASK-001:tasks/active/TASK-001.md")
    assert "- [x] Works" in kept
    report = results[0].report
    assert report is not None and results[0].commit is None
    assert any("kept the person's version" in n and "taskbot/TASK-001" in n for n in report.notes)


DEP_TASK = """\
---
id: TASK-002
title: Needs TASK-001
---
## Acceptance Criteria
- [ ] Later <!-- taskbot: shell project=demo cmd="true" -->

## Dependencies
- **TASK-001**: must be completed first
"""


def test_dependency_waits_then_runs_when_completed(tmp_path: Path) -> None:
    box = sandbox(tmp_path, on_complete="move")
    box.write("tasks/active/TASK-001.md", TASK.replace('cmd="false"', 'cmd="true"').replace(
        "- [ ] Breaks", "- [ ] By hand", 1).replace(
        ' <!-- taskbot: shell project=demo cmd="true" -->\n\n', "\n\n", 1))
    box.write("tasks/active/TASK-002.md", DEP_TASK)
    old, new = box.commit_push("two tasks")
    results = {r.task_id: r for r in _process(box, old, new)}
    waiting = results["TASK-002"].report
    assert waiting is not None and waiting.result == "waiting"
    assert "TASK-001" in "".join(waiting.next_steps())
    git(box.clone, "pull", "-q", "origin", "main")
    path = box.clone / "tasks/active/TASK-001.md"
    path.write_text(path.read_text().replace("- [ ] By hand", "- [x] By hand"))
    later = _process(box, *box.commit_push("person finishes TASK-001"))
    assert later and later[-1].reruns == ("TASK-002",)
    config = configmod.load(box.config)
    rerun = process(config, load_handlers(), Rerun("TASK-002"), now=NOW)
    assert rerun[0].report is not None and rerun[0].report.result == "complete"
    moved = box.main_file("tasks/completed/TASK-002.md")
    assert "status: completed" in moved and "- [x] Later" in moved


def test_watch_mode_commit_in_clone(tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    (box.clone / "notes.txt").write_text("uncommitted work\n")
    box.write("tasks/active/TASK-001.md", TASK)
    git(box.clone, "add", "tasks")
    old = git(box.clone, "rev-parse", "HEAD")
    git(box.clone, "commit", "-q", "-m", "add task")
    new = git(box.clone, "rev-parse", "HEAD")
    (box.clone / "README.md").write_text("tasks\nedited, not committed\n")
    config = configmod.load(box.config)
    results = process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)
    assert results[0].commit == git(box.clone, "rev-parse", "main")
    assert "- [x] Works" in (box.clone / "tasks/active/TASK-001.md").read_text()
    assert (box.clone / "notes.txt").read_text() == "uncommitted work\n"
    assert (box.clone / "README.md").read_text() == "tasks\nedited, not committed\n"


def test_secret_printed_by_a_command_is_redacted_in_commit_and_note(tmp_path: Path) -> None:
    secret = "hunter2-registry-pass"
    pwfile = tmp_path / "registry.pass"
    pwfile.write_text(secret + "\n")
    box = sandbox(tmp_path)
    box.config.write_text(box.config.read_text() + f'\n[registry]\nurl = "127.0.0.1:5000"\n'
                          f'password_file = "{pwfile}"\n')
    box.write("tasks/active/TASK-001.md", TASK.replace('cmd="false"', f'cmd="cat {pwfile}"')
              .replace('cmd="true"', f"cmd=\"sh -c 'cat {pwfile}; exit 1'\""))
    old, new = box.commit_push("add task")
    results = _process(box, old, new)
    assert results[0].commit is not None
    message = git(box.bare, "log", "-1", "--format=%B", "main")
    note = git(box.bare, "notes", "--ref=taskbot", "show", "main")
    text = box.main_file("tasks/active/TASK-001.md")
    stored = "".join(p.read_text() for p in (tmp_path / "state" / "reports").rglob("*.*"))
    assert "***" in message and "***" in note and "***" in text
    for where in (message, note, text, stored):
        assert secret not in where


def test_run_commit_by_hand_commits_like_the_daemon(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    box.commit_push("add task")
    before = (box.clone / "tasks/active/TASK-001.md").read_bytes()
    code = main(["--config", str(box.config), "run", "TASK-001", "--commit", "--no-notify"])
    captured = capsys.readouterr()
    assert code == 1  # `false` failed
    assert "# Task Execution Report: TASK-001" in captured.out
    assert captured.err.startswith("taskbot: committed ")
    assert box.log()[0].split(" ", 2)[2] == "taskbot(TASK-001): partial, 1/2 criteria done"
    assert _trailers(box)["Triggered-By"] == git(box.bare, "rev-parse", "main~1")
    assert (box.clone / "tasks/active/TASK-001.md").read_bytes() == before  # person's tree
    assert main(["--config", str(box.config), "run", "TASK-001", "--commit", "--dry-run"]) == 2


def test_untrusted_push_completing_a_dependency_queues_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", "# TASK-001\n## Acceptance Criteria\n- [ ] By hand\n")
    box.write("tasks/active/TASK-002.md", DEP_TASK)
    results = {r.task_id: r for r in _process(box, *box.commit_push("two tasks"))}
    assert results["TASK-002"].report.result == "waiting"  # type: ignore[union-attr]
    git(box.clone, "pull", "-q", "origin", "main")
    path = box.clone / "tasks/active/TASK-001.md"
    path.write_text(path.read_text().replace("- [ ] By hand", "- [x] By hand"))
    later = _process(box, *box.commit_push("finish", "--author", "Mallory <m@evil.example>"))
    assert all(r.reruns == () for r in later)
    assert "m@evil.example is not in [trust] authors" in later[-1].message


def test_rerun_refuses_a_task_an_untrusted_person_edited(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-002.md", DEP_TASK)
    _process(box, *box.commit_push("waiting task"))
    git(box.clone, "pull", "-q", "origin", "main")
    path = box.clone / "tasks/active/TASK-002.md"
    path.write_text(path.read_text().replace(
        "## Dependencies", "- [ ] Sneaky <!-- taskbot: shell project=demo cmd=\"touch pwned\" -->"
        "\n\n## Dependencies"))
    refused = _process(box, *box.commit_push("edit", "--author", "Mallory <m@evil.example>"))
    assert refused[0].commit is None
    config = configmod.load(box.config)
    rerun = process(config, load_handlers(), Rerun("TASK-002"), now=NOW)
    assert rerun[0].commit is None
    assert "m@evil.example is not in [trust] authors" in rerun[0].message
    assert not (tmp_path / "demo" / "pwned").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root (CI runs as root)")
def test_a_signature_record_someone_else_wrote_counts_for_nothing(tmp_path: Path) -> None:
    """The record is taskbot's: one planted by another user, or in a state dir taskbot
    cannot write, leaves every signature to be verified; an unsigned push is still refused."""
    from bot.git.signatures import Signatures
    from bot.state.statedir import VERIFIED_SIGNATURES as VERIFIED

    box = signing_sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task", "--no-gpg-sign")
    state = box.root / "state"
    state.mkdir(exist_ok=True)
    key = hashlib.sha256((tmp_path / "allowed_signers").read_bytes()).hexdigest()
    (state / VERIFIED).write_text(f"signers {key}\n{new}\n")
    os.chown(state / VERIFIED, 4242, 4242)  # as if another user planted it
    assert not Signatures(state, str(tmp_path / "allowed_signers")).verified(box.bare, new)
    results = _process(box, old, new)
    assert results[0].commit is None and "no valid ssh signature" in results[0].message
