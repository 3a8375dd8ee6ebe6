"""`taskbot demo`: the whole flow in a throw-away sandbox, with nothing to configure.

A bare tasks repository with the hook installed, a person's clone, an example
project, the daemon started, a task pushed; then the bot's commit, its diff, and
the notification that reached a local receiver. Where buildah, docker-registry and
kubectl are, a second task runs the main job (bot.commands.demo_main). Everything is
removed afterwards, unless `--keep`.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from bot import config as configmod
from bot.commands import demo_main, demo_registry, sandbox
from bot.commands.demo_registry import Registry
from bot.commands.init import init

WAIT = 15.0
WAIT_MAIN = 40.0
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


def _setup(root: Path, port: int, registry: Registry | None) -> Path:
    project = root / "demo-project"
    project.mkdir()
    (project / "README.md").write_text("# demo project\n")
    sections = _config(root, port)
    if registry is not None:
        demo_main.project_files(project, _person_env())
        demo_main.gitops(root, registry.host, _person_env())
        sections |= demo_main.config(root, registry)
    sandbox.make_repos(root, env=_person_env(), readme="# Tasks of the demo home lab\n")
    config_path = sandbox.write_config(root / "taskbot.toml", sections, comment=(
        "A sandbox: nobody else can push here, so everyone is trusted."))
    for line in init(configmod.load(config_path)).messages:
        print(f"   {line}")
    return config_path


def _push_task(root: Path, name: str = "TASK-001.md", content: bytes | None = None,
               message: str = "Add TASK-001: release the demo service") -> float:
    clone = root / "tasks-clone"
    data = files("bot.examples").joinpath(name).read_bytes() if content is None else content
    sandbox.commit_file(clone, f"tasks/active/{name}", data, message, env=_person_env())
    started = time.monotonic()
    _git(clone, "push", "-q", "origin", "main")
    return started


def _show(title: str, lines: str | Sequence[str]) -> None:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    print(f"\n== {title}\n{text.rstrip()}")


def run_demo(keep: bool = False) -> int:
    root = Path(tempfile.mkdtemp(prefix="taskbot-demo-"))
    try:
        with ExitStack() as stack:
            port, got = stack.enter_context(_receiver())
            lacking = demo_main.missing()
            registry = None if lacking else stack.enter_context(
                demo_registry.running(root / "registry"))
            return _demo(root, port, got, registry, lacking)
    finally:
        if keep:
            _show_keep(root)
        else:
            shutil.rmtree(root, ignore_errors=True)
            print("== the sandbox is removed now (`taskbot demo --keep` keeps it)")


def _demo(root: Path, port: int, got: queue.Queue[dict[str, Any]], registry: Registry | None,
          lacking: Sequence[str]) -> int:
    print(f"== sandbox {root}: bare tasks repo, a clone, a project; `taskbot init`")
    config_path = _setup(root, port, registry)
    with sandbox.serving(config_path, root / "daemon.log"):
        print("== `taskbot serve` is up; pushing tasks/active/TASK-001.md from the clone")
        started = _push_task(root)
        note = _await(root, got, WAIT)
        if note is None:
            return 1
        took = time.monotonic() - started
        bare = root / "tasks.git"
        _show("git log on main (tasks repo)", _git(bare, "log", "--format=%h %an: %s", "main"))
        _show("taskbot's commit", _git(bare, "show", "--format=%B", "main"))
        _show(f"notification received ({note.get('type')}): {note.get('title')}",
              note.get("message", ""))
        print(f"\n== push → report in {took:.2f}s")
        if registry is None:
            print(f"\n== the main job (build, push, HelmRelease bump) needs {', '.join(lacking)}"
                  f": {demo_main.PACKAGES}")
            return 0
        return _main_job(root, got, registry)


def _await(root: Path, got: queue.Queue[dict[str, Any]], wait: float) -> dict[str, Any] | None:
    try:
        return got.get(timeout=wait)
    except queue.Empty:
        _show("daemon log", (root / "daemon.log").read_text())
        print("taskbot demo: no report arrived in time", file=sys.stderr)
        return None


def _main_job(root: Path, got: queue.Queue[dict[str, Any]], registry: Registry) -> int:
    print(f"\n== the main job: registry https://{registry.host} (TLS, htpasswd); pushing "
          "TASK-002: build with buildah, push, bump the HelmRelease in gitops")
    _git(root / "tasks-clone", "pull", "-q", "--ff-only")  # taskbot's commit for TASK-001
    started = _push_task(root, "TASK-002.md", demo_main.task_text(registry).encode(),
                         "Add TASK-002: release the demo web image")
    note = _await(root, got, WAIT_MAIN)
    if note is None:
        return 1
    took = time.monotonic() - started
    _show("taskbot's commit (TASK-002)", _git(root / "tasks.git", "log", "-1", "--format=%B",
                                              "main"))
    _show(f"notification received ({note.get('type')}): {note.get('title')}",
          note.get("message", ""))
    _show("HelmRelease change in the GitOps repo (gitops.git, main)",
          _git(root / "gitops.git", "show", "--format=%h %an: %s", "main"))
    clone = root / "gitops"
    _git(clone, "pull", "-q", "--ff-only")
    done = subprocess.run(["kubectl", "kustomize", "clusters/sandbox"], cwd=clone,
                          capture_output=True, text=True, timeout=60, check=False)
    _show(f"kubectl kustomize clusters/sandbox (exit {done.returncode})",
          done.stdout + done.stderr)
    print(f"\n== push → report in {took:.2f}s")
    return 0 if note.get("type") == "success" else 1


def _show_keep(root: Path) -> None:
    config = root / "taskbot.toml"
    print(f"""
== the sandbox is kept: {root} (the daemon and the registry are stopped). Look around:
   git -C {root}/tasks.git log --format='%h %an: %s' main
   git -C {root}/tasks.git notes --ref=taskbot show main
   git -C {root}/gitops.git log -p -1 main          (when the main job ran)
   taskbot --config {config} status
   taskbot --config {config} report TASK-001
   cat {root}/daemon.log
   rm -rf {root}                                    (when done)""")


def command(args: argparse.Namespace) -> int:
    """`taskbot demo [--keep]`."""
    return run_demo(keep=args.keep)
