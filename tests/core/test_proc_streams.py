"""bot.proc keeps stdout (for handlers to parse) apart from a stderr tail, and passes git's
transport settings to children while stripping what would point git at another repository.
Real processes, as in test_proc.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.proc import STDOUT_CAP, Redactor, run_command


def test_stdout_and_stderr_are_kept_apart(tmp_path: Path) -> None:
    script = "echo out1; echo err1 >&2; sleep 0.05; echo out2; echo err2 >&2"
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=5)
    assert record.stdout == "out1\nout2\n"
    assert record.stderr_tail == "err1\nerr2"
    assert sorted(record.output_tail.splitlines()) == ["err1", "err2", "out1", "out2"]
    assert record.error_line == "err2"


def test_stdout_is_whole_beyond_the_tail(tmp_path: Path) -> None:
    record = run_command(["sh", "-c", "seq 1 500; echo noise >&2"], str(tmp_path), timeout=5)
    assert record.stdout.splitlines() == [str(i) for i in range(1, 501)]
    assert len(record.output_tail.splitlines()) == 20


def test_stdout_keeps_its_last_64_kib_from_a_line_start(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(20000): sys.stdout.write(f'line {i:06d}\\n')"
    record = run_command([sys.executable, "-c", code], str(tmp_path), timeout=10)
    assert record.ok
    size = len(record.stdout.encode())
    assert STDOUT_CAP - len("line 000000\n") < size <= STDOUT_CAP
    lines = record.stdout.splitlines()
    assert lines[-1] == "line 019999"
    assert all(line.startswith("line ") and len(line) == 11 for line in lines)


def test_stderr_tail_is_the_last_20_lines(tmp_path: Path) -> None:
    record = run_command(["sh", "-c", "seq 1 50 >&2; echo fine"], str(tmp_path), timeout=5)
    assert record.stderr_tail.splitlines() == [str(i) for i in range(31, 51)]
    assert record.stdout == "fine\n"


def test_stdout_and_stderr_tail_are_redacted(tmp_path: Path) -> None:
    script = "echo token=s3cr3t; echo 'https://bot:hunter2@example.com/x.git' >&2"
    record = run_command(["sh", "-c", script], str(tmp_path), timeout=5,
                         redactor=Redactor(("s3cr3t",)))
    assert record.stdout == "token=***\n"
    assert record.stderr_tail == "https://bot:***@example.com/x.git"


def test_a_command_that_cannot_start_has_empty_streams(tmp_path: Path) -> None:
    record = run_command(["no-such-command-xyz"], str(tmp_path), timeout=5)
    assert record.stdout == "" and record.stderr_tail == ""


LOCATING = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")
TRANSPORT = {
    "GIT_SSH_COMMAND": "ssh -i /etc/taskbot/deploy_key",
    "GIT_SSH": "/usr/bin/ssh",
    "GIT_ASKPASS": "/usr/local/bin/askpass",
    "GIT_SSL_CAINFO": "/etc/ssl/gitops-ca.pem",
    "GIT_SSL_NO_VERIFY": "1",
    "GIT_HTTP_PROXY_AUTHMETHOD": "basic",
    "GIT_ALLOW_PROTOCOL": "https:ssh",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "http.proxy",
    "GIT_CONFIG_VALUE_0": "http://proxy:3128",
}


def test_git_locating_variables_are_stripped_transport_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LOCATING:
        monkeypatch.setenv(name, "/somewhere/else")
    for name, value in TRANSPORT.items():
        monkeypatch.setenv(name, value)
    record = run_command(["env"], str(tmp_path), timeout=5)
    seen = dict(line.split("=", 1) for line in record.stdout.splitlines() if "=" in line)
    assert not set(LOCATING) & set(seen)
    assert {k: seen.get(k) for k in TRANSPORT} == TRANSPORT


def test_git_finds_the_cwd_repository_despite_git_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    assert run_command(["git", "init", "-q", str(repo)], str(tmp_path), timeout=10).ok
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "taskbot.probe")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "from-operator")
    top = run_command(["git", "rev-parse", "--show-toplevel"], str(repo), timeout=10)
    assert top.stdout.strip() == str(repo.resolve())
    probe = run_command(["git", "config", "taskbot.probe"], str(repo), timeout=10)
    assert probe.stdout == "from-operator\n"
