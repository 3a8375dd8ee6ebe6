"""the stall guard sets aside trusted work that was within its own bound.

README: "An item that shows no sign of life for `limits.stall_timeout` (... a command counts
as alive for its own timeout) is given up". `verify url=... timeout=N` (N up to 9999 s) is
not a command: it blocks in urllib with no heartbeat. A slow (or dripping) web server that
answers within the criterion's own timeout, but after `stall_timeout`, makes the daemon
give up the whole range: the trusted criterion that already ran is not ticked, the task
after it in the same push never runs, and the commits are skipped for good.

Real daemon, real hook, real `git push`. stall_timeout is lowered to 3 s to keep the test
short; with the defaults the same happens with `timeout=300` and a server answering after
150 s (or dripping a byte every few seconds: `reply.read(1 << 20)` has no overall bound).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc
from tests.kit.exactly import installed, wait_until
from tests.kit.git import Sandbox

pytestmark = pytest.mark.integration

SLOW = 8.0  # the server answers after this long: within the criterion's timeout (30 s)


class SlowServer:
    """Accepts, waits SLOW seconds, answers 200."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        try:
            conn.recv(4096)
            time.sleep(SLOW)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            conn.close()


def _with_stall_timeout(box: Sandbox, value: str) -> None:
    text = box.config.read_text()
    box.config.write_text(text.replace("[limits]\n", f'[limits]\nstall_timeout = "{value}"\n', 1))


def test_a_verify_within_its_own_timeout_is_not_set_aside(tmp_path: Path) -> None:
    server = SlowServer()
    box = installed(tmp_path)
    _with_stall_timeout(box, "3s")
    state = tmp_path / "state"
    box.write("tasks/active/TASK-001.md",
              "---\nid: TASK-001\ntitle: t\n---\n## Acceptance Criteria\n"
              '- [ ] Prepare <!-- taskbot: shell project=demo cmd="true" -->\n'
              f"- [ ] Site answers <!-- taskbot: verify url=http://127.0.0.1:{server.port}/ "
              "timeout=30 -->\n")
    box.write("tasks/active/TASK-002.md",
              "---\nid: TASK-002\ntitle: t\n---\n## Acceptance Criteria\n"
              '- [ ] Other work <!-- taskbot: shell project=demo cmd="true" -->\n')
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("two trusted tasks", "--author", "Becker <becker@example.com>")
        wait_until(lambda: {"TASK-001", "TASK-002"} <= set(status_doc(state).get("tasks") or {}),
                   timeout=60, what="both tasks run")
        wait_until(idle_and_empty(state), timeout=60, what="the daemon idle again")
        log = daemon.stderr()
    failed = sorted(p.name for p in (state / "queue" / "failed").glob("*"))
    # Expected: both tasks ran within their bounds and were ticked, nothing set aside.
    assert "stalled" not in log, log[-3000:]
    assert failed == []
    assert "- [x] Site answers" in box.main_file("tasks/active/TASK-001.md")
    assert "- [x] Other work" in box.main_file("tasks/active/TASK-002.md")
