"""Issue 17, finding 7, end to end: a real daemon in remote mode (a real sshd forge on
127.0.0.1) whose webhook listener has 200 connections stalled on it, from the address the
forge delivers from; a person's `git push` and its signed delivery still run the task."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.forge.test_remote_mode import (
    _await_listening,
    _bot_commit_on_main,
    _github_push,
    _person,
    _push_task,
    _setup,
)
from tests.kit.daemon import running_daemon
from tests.kit.exactly import task_text, wait_until
from tests.kit.forge import SshForge
from tests.kit.git import git

pytest_plugins = ["tests.kit.forge_plugin"]
pytestmark = pytest.mark.integration


def test_a_signed_delivery_runs_the_task_while_200_connections_stall(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    config, port = _setup(tmp_path, ssh_forge, poll="1h", webhook=True)
    laptop = _person(tmp_path, ssh_forge)
    marker = tmp_path / "demo" / "ran"
    stalled: list[socket.socket] = []
    try:
        with running_daemon(config, tmp_path / "serve.log"):
            _await_listening(port)
            for n in range(200):  # half stop inside the head, half inside the body
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"POST /webhook HTTP/1.1\r\nContent-Length: 900\r\n"
                             + (b"\r\n{" if n % 2 else b""))
                stalled.append(sock)
            pushed = _push_task(laptop, "TASK-001.md", task_text(
                "TASK-001", [("Say hello", f"touch {marker}")]))
            assert _github_push(port, pushed) == 202
            wait_until(lambda: _bot_commit_on_main(ssh_forge), 30, "taskbot's commit on the forge")
    finally:
        for sock in stalled:
            sock.close()
    assert marker.exists()
    assert "- [x] Say hello" in git(ssh_forge.bare, "show", "main:tasks/active/TASK-001.md")
