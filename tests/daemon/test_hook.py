"""`taskbot init` and the post-receive hook, with real bare repos and real `git push`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.daemon import hook as hookinstall
from bot.daemon import spool as queue
from tests.kit.daemon import TASKBOT, await_entries
from tests.kit.git import Sandbox, git, sandbox

pytestmark = pytest.mark.integration


def _push(box: Sandbox, name: str = "note.txt") -> subprocess.CompletedProcess[str]:
    (box.clone / name).write_text(f"{name}\n")
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "-m", f"add {name}")
    return subprocess.run(["git", "push", "origin", "HEAD:main"], cwd=box.clone,
                          capture_output=True, text=True, check=False)


def _taskbot_lines(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if "taskbot:" in line]


def _init(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["init", "--config", str(box.config)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return sandbox(tmp_path)


def test_push_with_the_daemon_down_succeeds_and_is_queued(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _init(box, capsys)
    assert code == 0, out
    hook = box.bare / "hooks" / "post-receive"
    assert "hook installed" in out and hook.stat().st_mode & 0o111
    text = hook.read_text()
    assert hookinstall.MARKER in text.splitlines()[1]
    assert f"STATE_DIR={box.root}/state" in text and f"TASKBOT={TASKBOT}" in text
    old = git(box.bare, "rev-parse", "main")
    pushed = _push(box)
    assert pushed.returncode == 0, pushed.stderr
    new = git(box.bare, "rev-parse", "main")
    assert _taskbot_lines(pushed.stderr) == [
        "remote: taskbot: note: the daemon is not running; this push is queued and runs when it starts"]
    await_entries(box.root / "state", 1)
    [entry] = queue.pending(box.root / "state")
    assert entry.lines == (f"{old} {new} refs/heads/main",)
    queue.done(entry)  # the hook's second name in tmp/ goes with the entry
    assert not list((box.root / "state" / "queue" / "tmp").iterdir())


def test_missing_state_dir_warns_once_and_the_push_succeeds(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(box, capsys)[0] == 0
    shutil.rmtree(box.root / "state")
    pushed = _push(box)
    assert pushed.returncode == 0
    [warning] = _taskbot_lines(pushed.stderr)
    assert "warning: push not queued" in warning and "the push itself succeeded" in warning
    assert f"{TASKBOT} init" in warning
    assert not (box.root / "state").exists()  # the hook does not invent a state dir
    assert git(box.bare, "log", "-1", "--format=%s", "main") == "add note.txt"


def test_unwritable_spool_warns_once_and_the_push_succeeds(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(box, capsys)[0] == 0
    tmp = box.root / "state" / "queue" / "tmp"
    tmp.rmdir()
    tmp.write_text("in the way\n")  # unwritable even for root
    pushed = _push(box)
    assert pushed.returncode == 0
    assert len(_taskbot_lines(pushed.stderr)) == 1
    assert "cannot write" in pushed.stderr
    assert queue.pending(box.root / "state") == []


def test_foreign_hook_is_never_overwritten_and_init_says_how_to_chain(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    hook = box.bare / "hooks" / "post-receive"
    foreign = "#!/bin/sh\necho foreign hook ran >&2\n"
    hook.write_text(foreign)
    hook.chmod(0o755)
    code, out = _init(box, capsys)
    assert code == 1
    assert hook.read_text() == foreign
    assert "not taskbot's" in out and "hook post-receive" in out
    # Chaining as told: the foreign hook calls `taskbot hook post-receive`.
    line = out.split("add this line to it")[1].split(": ", 1)[1].split("  —")[0]
    hook.write_text("#!/bin/sh\n" + line + "\necho foreign hook ran >&2\n")
    pushed = _push(box)
    assert pushed.returncode == 0
    assert "foreign hook ran" in pushed.stderr
    assert len(queue.pending(box.root / "state")) == 1  # the Python hook: written before it returns


def test_init_again_keeps_its_own_hook_current(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(box, capsys)[0] == 0
    hook = box.bare / "hooks" / "post-receive"
    code, out = _init(box, capsys)
    assert code == 0 and "up to date" in out
    hook.write_text(hook.read_text().replace("STATE_DIR=", "STATE_DIR=/old/place #"))
    code, out = _init(box, capsys)
    assert code == 0 and "hook updated" in out
    assert f"STATE_DIR={box.root}/state\n" in hook.read_text()


def test_core_hooks_path_is_honoured(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    shared = box.root / "shared-hooks"
    git(box.bare, "config", "core.hooksPath", str(shared))
    assert _init(box, capsys)[0] == 0
    assert (shared / "post-receive").is_file()
    assert not (box.bare / "hooks" / "post-receive").exists()
    assert _push(box).returncode == 0
    await_entries(box.root / "state", 1)


def test_init_writes_a_starter_config_once(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "etc" / "taskbot.toml"
    assert main(["init", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "wrote a starter configuration" in out and "edit [repo] and [trust]" in out
    starter = path.read_text()
    assert "[repo]" in starter and "# [trust]" in starter
    # The starter names a repository that is not there: init says so and changes nothing.
    assert main(["init", "--config", str(path)]) == 2
    assert "repo.path" in capsys.readouterr().err
    assert path.read_text() == starter


def test_init_in_watch_mode_installs_no_hook(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    box = sandbox(tmp_path, bare=False)
    code, out = _init(box, capsys)
    assert code == 0 and "watch mode" in out
    assert not (box.clone / ".git" / "hooks" / "post-receive").exists()
    assert (box.root / "state" / "queue" / "tmp").is_dir()


def test_python_hook_command_queues_stdin(box: Sandbox) -> None:
    (box.root / "state").mkdir()
    a, b = "a" * 40, "b" * 40
    done = subprocess.run([str(TASKBOT), "--config", str(box.config), "hook", "post-receive"],
                          input=f"{a} {b} refs/heads/main\n", capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and "daemon is not running" in done.stderr
    assert [e.lines for e in queue.pending(box.root / "state")] == [(f"{a} {b} refs/heads/main",)]
    bad = subprocess.run([str(TASKBOT), "--config", str(box.root / "missing.toml"), "hook",
                          "post-receive"], input=f"{a} {b} refs/heads/main\n",
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 0
    assert bad.stderr.count("\n") == 1 and "warning: push not queued" in bad.stderr
