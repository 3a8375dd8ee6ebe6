"""bot.proc against real processes: exit codes, output, environment, timeouts, redaction."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from bot.proc import CommandRecord, Redactor, run_command


def _alive(pid: int) -> bool:
    """True if `pid` is a running process (a zombie counts as dead: PID 1 may not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _gone(pid: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


def test_success_and_exit_codes(tmp_path: Path) -> None:
    ok = run_command(["true"], str(tmp_path), timeout=5)
    assert ok.ok and ok.exit_status == 0 and not ok.timed_out and ok.error == ""
    assert ok.argv == ("true",) and ok.cwd == str(tmp_path)
    assert ok.duration >= 0

    failed = run_command(["sh", "-c", "exit 3"], str(tmp_path), timeout=5)
    assert not failed.ok and failed.exit_status == 3


def test_runs_in_cwd(tmp_path: Path) -> None:
    record = run_command(["pwd"], str(tmp_path), timeout=5)
    assert record.output_tail == str(tmp_path)


def test_output_tail_keeps_last_20_lines(tmp_path: Path) -> None:
    record = run_command(
        ["sh", "-c", "for i in $(seq 1 50); do echo line$i; done"], str(tmp_path), timeout=5
    )
    assert record.output_tail.splitlines() == [f"line{i}" for i in range(31, 51)]


def test_output_tail_combines_stdout_and_stderr(tmp_path: Path) -> None:
    script = "echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; echo out2"
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=5)
    assert record.output_tail.splitlines() == ["out1", "err1", "out2"]


def test_error_line_is_last_stderr_line_else_stdout(tmp_path: Path) -> None:
    script = "echo out; echo first >&2; echo 'last problem' >&2; echo >&2; echo more-out"
    argv = ["sh", "-c", script + "; exit 1"]
    record = run_command(argv, str(tmp_path), timeout=5)
    assert record.error_line == "last problem"
    assert record.describe() == f"{shlex.join(argv)} exited 1: last problem"

    only_stdout = run_command(["sh", "-c", "echo a; echo b; exit 2"], str(tmp_path), timeout=5)
    assert only_stdout.error_line == "b"
    assert only_stdout.describe() == "sh -c 'echo a; echo b; exit 2' exited 2: b"


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    record = run_command(["printf", r"caf\351\n"], str(tmp_path), timeout=5)
    assert record.output_tail == "caf\ufffd"


def test_large_output_does_not_deadlock(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "for i in range(200000):\n"
        "    sys.stdout.write(f'out {i}\\n'); sys.stderr.write(f'err {i}\\n')\n"
    )
    record = run_command([sys.executable, "-c", script], str(tmp_path), timeout=30)
    assert record.ok
    assert record.error_line == "err 199999"
    assert len(record.output_tail.splitlines()) == 20
    assert "199999" in record.output_tail


def test_input_is_fed_to_stdin(tmp_path: Path) -> None:
    record = run_command(["cat"], str(tmp_path), timeout=5, input=b"hello\nworld\n")
    assert record.output_tail == "hello\nworld"


def test_stdin_is_devnull_without_input(tmp_path: Path) -> None:
    record = run_command(["cat"], str(tmp_path), timeout=5)  # would hang on a terminal
    assert record.ok and record.output_tail == ""


def test_git_variables_are_stripped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/somewhere/else.git")
    monkeypatch.setenv("GIT_INDEX_FILE", "/tmp/index")
    monkeypatch.setenv("TASKBOT_TEST_KEEP", "kept")
    script = 'echo "${GIT_DIR-unset} ${GIT_INDEX_FILE-unset} $TASKBOT_TEST_KEEP"'
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=5)
    assert record.output_tail == "unset unset kept"


def test_env_is_added_on_top(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOT_TEST_VAR", "from-parent")
    record = run_command(
        ["sh", "-c", 'echo "$VERSION $TASKBOT_TEST_VAR $GIT_AUTHOR_NAME"'],
        str(tmp_path),
        env={"VERSION": "0.1.18", "TASKBOT_TEST_VAR": "overridden", "GIT_AUTHOR_NAME": "taskbot"},
        timeout=5,
    )
    assert record.output_tail == "0.1.18 overridden taskbot"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; echo started; sleep 30"
    began = time.monotonic()
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=1)
    elapsed = time.monotonic() - began

    assert record.timed_out and record.exit_status is None and not record.ok
    assert record.error == "timed out after 1s"
    assert record.describe() == f"{record.argv[0]} -c '{script}' timed out after 1s"
    assert record.output_tail == "started"
    assert 1 <= elapsed < 1 + 3
    shell, sleeper = _pids(pids)
    assert _gone(shell) and _gone(sleeper)


def test_timeout_escalates_to_sigkill(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"trap '' TERM; sleep 30 & echo $! > {pids}; sleep 30"
    began = time.monotonic()
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=0.5)
    elapsed = time.monotonic() - began
    assert record.timed_out and record.error == "timed out after 500ms"
    assert elapsed < 0.5 + 3
    assert _gone(_pids(pids)[0])


def test_background_children_do_not_outlive_the_command(tmp_path: Path) -> None:
    bg = tmp_path / "bg"
    began = time.monotonic()
    record = run_command(
        ["sh", "-c", f"sleep 30 & echo $! > {bg}; echo done"], str(tmp_path), timeout=10
    )
    assert record.ok and record.output_tail == "done"
    assert time.monotonic() - began < 3
    assert _gone(_pids(bg)[0])


def test_background_children_may_outlive_a_git_command_that_ended_by_itself(
        tmp_path: Path) -> None:
    """`kill_leftovers=False` (every git command): a hook's background child on the far side
    of a local push finishes its write; on a timeout the whole group still dies."""
    bg, marker = tmp_path / "bg", tmp_path / "written"
    script = f"(sleep 0.2; echo entry > {marker}) >/dev/null 2>&1 & echo $! > {bg}; echo pushed"
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=10, kill_leftovers=False)
    assert record.ok and record.output_tail == "pushed"
    assert _gone(_pids(bg)[0], within=10)  # it ran to its end, not killed: it wrote
    assert marker.read_text() == "entry\n"

    pids = tmp_path / "pids"
    stuck = f"sleep 30 & echo $! > {pids}; sleep 30"
    record = run_command(["sh", "-c", stuck], str(tmp_path), timeout=0.5, kill_leftovers=False)
    assert record.timed_out and _gone(_pids(pids)[0])


def test_escaped_pipe_holder_cannot_hang_the_caller(tmp_path: Path) -> None:
    # `setsid` leaves the process group, so the group kill cannot reach it; it keeps
    # stdout open for 3 s, and the final read is bounded well below that.
    began = time.monotonic()
    record = run_command(["sh", "-c", "setsid sleep 3 & echo started"], str(tmp_path), timeout=10)
    assert record.ok and record.output_tail == "started"
    assert time.monotonic() - began < 2.5


def test_missing_executable(tmp_path: Path) -> None:
    record = run_command(["no-such-command-xyz", "--flag"], str(tmp_path), timeout=5)
    assert record.exit_status is None and not record.ok and not record.timed_out
    assert record.error == "command not found: no-such-command-xyz"
    assert record.describe() == (
        "no-such-command-xyz --flag could not start: command not found: no-such-command-xyz"
    )


def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    record = run_command([str(script)], str(tmp_path), timeout=5)
    assert record.exit_status is None
    assert record.error == f"permission denied: {script}"


def test_missing_cwd(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    record = run_command(["true"], str(missing), timeout=5)
    assert record.exit_status is None
    assert record.error == f"working directory {missing}: No such file or directory"


def test_empty_argv_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty argv"):
        run_command([], str(tmp_path), timeout=5)


def test_no_shell_interpretation(tmp_path: Path) -> None:
    record = run_command(["echo", "$(touch x)", ";", "touch", "y"], str(tmp_path), timeout=5)
    assert record.output_tail == "$(touch x) ; touch y"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_secrets_redacted_from_argv_and_output(tmp_path: Path) -> None:
    redactor = Redactor(("s3cr3t-token",))
    script = "echo token=s3cr3t-token; echo 'push https://bot:hunter2@example.com/x.git' >&2"
    record = run_command(
        ["sh", "-c", script, "--password", "s3cr3t-token", "https://u:pw@registry:5000/v2/"],
        str(tmp_path),
        timeout=5,
        redactor=redactor,
    )
    shown = " ".join(record.argv) + record.output_tail + record.error_line + record.describe()
    assert "s3cr3t" not in shown and "hunter2" not in shown and ":pw@" not in shown
    assert record.argv[3:] == ("--password", "***", "https://u:***@registry:5000/v2/")
    assert sorted(record.output_tail.splitlines()) == [
        "push https://bot:***@example.com/x.git",
        "token=***",
    ]
    assert record.error_line == "push https://bot:***@example.com/x.git"


def test_secret_redacted_from_start_error(tmp_path: Path) -> None:
    redactor = Redactor(("s3cr3t",))
    record = run_command(["no-such-s3cr3t"], str(tmp_path), timeout=5, redactor=redactor)
    assert record.argv == ("no-such-***",)
    assert record.error == "command not found: no-such-***"


def test_redactor() -> None:
    redact = Redactor(("abc", "", "abcdef"))
    assert redact("x abcdef abc y") == "x *** *** y"
    assert redact("nothing here") == "nothing here"
    assert redact("https://user:p%40ss@host:443/path?q=1") == "https://user:***@host:443/path?q=1"
    assert redact("mailtos://:token@smtp.example.com") == "mailtos://:***@smtp.example.com"
    assert redact("postgres://u:p@ss:w@db/x u:v@w") == "postgres://u:***@db/x u:v@w"
    assert redact("ssh://git@host/repo and user@host") == "ssh://git@host/repo and user@host"
    assert redact("http://host:8080/x@y") == "http://host:8080/x@y"

    more = Redactor().with_secrets("one", "", "two", "one")
    assert more.secrets == ("one", "two")
    assert more.with_secrets("two", "three").secrets == ("one", "two", "three")
    assert more("one two three") == "*** *** three"


def test_record_describe_for_signal() -> None:
    record = CommandRecord(("x",), "/", -9, 0.1, "", "")
    assert record.describe() == "x was killed by SIGKILL"


def test_waiting_for_exit_without_a_pidfd_polls_and_leaves_the_child_unreaped() -> None:
    """A kernel older than 5.3 has no pidfd_open: the exit is polled. Either way the
    child stays a zombie until reaped, so its process group id cannot be reused."""
    import subprocess

    from bot import proc

    quick = subprocess.Popen(["true"])
    slow = subprocess.Popen(["sleep", "5"])
    try:
        assert proc._poll_exit(quick.pid, time.monotonic() + 5)
        assert proc._wait_exit(quick.pid, time.monotonic() + 5)
        assert not proc._poll_exit(slow.pid, time.monotonic() + 0.05)
        assert not proc._wait_exit(slow.pid, time.monotonic() + 0.05)
        assert os.waitid(os.P_PID, quick.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    finally:
        slow.kill()
        slow.wait()
        assert quick.wait() == 0


def test_a_timeout_of_weeks_is_accepted(tmp_path: Path) -> None:
    """`build_timeout = "600h"` is a valid setting: waiting for it must not overflow poll()."""
    record = run_command(["true"], str(tmp_path), timeout=2.2e6)
    assert record.ok and not record.timed_out
