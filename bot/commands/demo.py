"""`taskbot demo`: the whole flow in a throw-away sandbox, with nothing to configure.

A bare tasks repository with the hook installed, a person's clone, an example
project, the daemon started, a task pushed; then the bot's commit, its diff, and
the notification that reached a local receiver. Everything is removed afterwards.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from bot import config as configmod
from bot.commands import sandbox
from bot.commands.init import init

WAIT = 15.0
PERSON = {"GIT_AUTHOR_NAME": "Becker", "GIT_AUTHOR_EMAIL": "becker@demo",
          "GIT_COMMITTER_NAME": "Becker", "GIT_COMMITTER_EMAIL": "becker@demo"}


def _person_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | PERSON


def _git(cwd: Path, *args: str) -> str:
    return sandbox.git(cwd, *args, env=_person_env())


@contextmanager
def _receiver() -> Iterator[tuple[int, queue.Queue[dict[str, Any]]]]:
    """A local HTTP endpoint standing in for chat: apprise's json:// posts arrive here."""
    arrived: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()
            arrived.put(json.loads(body))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], arrived
    finally:
        server.shutdown()
        server.server_close()


def _config(root: Path, port: int) -> dict[str, dict[str, sandbox.TomlValue]]:
    return {
        "repo": {"path": root / "tasks.git", "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "identity": {"name": "taskbot", "email": "taskbot@demo"},
        "trust": {"anyone": True},
        "notify": {"urls": [f"json://127.0.0.1:{port}/taskbot"]},
        "limits": {"retries": 0, "command_timeout": "10s"},
        "projects.demo": {"path": root / "demo-project", "allow_shell": True},
    }


def _setup(root: Path, port: int) -> Path:
    project = root / "demo-project"
    project.mkdir()
    (project / "README.md").write_text("# demo project\n")
    sandbox.make_repos(root, env=_person_env(), readme="# Tasks of the demo home lab\n")
    config_path = sandbox.write_config(root / "taskbot.toml", _config(root, port), comment=(
        "A sandbox: nobody else can push here, so everyone is trusted."))
    for line in init(configmod.load(config_path)).messages:
        print(f"   {line}")
    return config_path


def _push_task(root: Path) -> float:
    clone = root / "tasks-clone"
    sandbox.commit_file(clone, "tasks/active/TASK-001.md",
                        files("bot.examples").joinpath("TASK-001.md").read_bytes(),
                        "Add TASK-001: release the demo service", env=_person_env())
    started = time.monotonic()
    _git(clone, "push", "-q", "origin", "main")
    return started


def _show(title: str, lines: str | Sequence[str]) -> None:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    print(f"\n== {title}\n{text.rstrip()}")


def run_demo() -> int:
    with tempfile.TemporaryDirectory(prefix="taskbot-demo-") as tmp, _receiver() as (port, got):
        root = Path(tmp)
        print(f"== sandbox {root}: bare tasks repo, a clone, a project; `taskbot init`")
        config_path = _setup(root, port)
        with sandbox.serving(config_path, root / "daemon.log"):
            print("== `taskbot serve` is up; pushing tasks/active/TASK-001.md from the clone")
            started = _push_task(root)
            try:
                note = got.get(timeout=WAIT)
            except queue.Empty:
                _show("daemon log", (root / "daemon.log").read_text())
                print("taskbot demo: no report arrived in time", file=sys.stderr)
                return 1
            took = time.monotonic() - started
        bare = root / "tasks.git"
        _show("git log on main (tasks repo)", _git(bare, "log", "--format=%h %an: %s", "main"))
        _show("taskbot's commit", _git(bare, "show", "--format=%B", "main"))
        _show(f"notification received ({note.get('type')}): {note.get('title')}",
              note.get("message", ""))
        print(f"\n== push → report in {took:.2f}s; the sandbox is removed now")
    return 0
