"""Issue 12: a tasks repository on a forge (a real sshd serving a bare repo on 127.0.0.1).

A person pushes to the forge from his laptop (his own clone and key); taskbot, woken by
a signed webhook or by polling, fetches with its deploy key, runs the task and pushes its
commit, trailers and note back to the forge's main — or, when the forge protects main,
pushes `taskbot/<ID>` and says where to open the pull request.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from bot import config as configmod
from bot.commands.demo_registry import free_port
from bot.forge import poll
from bot.forge.poll import Poller
from bot.forge.remote import clone_path
from tests.kit.config import write_config
from tests.kit.daemon import TASKBOT, running_daemon
from tests.kit.exactly import task_text, wait_until
from tests.kit.forge import HttpForge, SshForge
from tests.kit.git import git

pytest_plugins = ["tests.kit.forge_plugin"]
pytestmark = pytest.mark.integration

SECRET = "webhook-secret-8d1f"


def _setup(tmp_path: Path, forge: SshForge, *, poll: str, webhook: bool) -> tuple[Path, int]:
    (tmp_path / "demo").mkdir()
    secret = tmp_path / "webhook.secret"
    secret.write_text(SECRET + "\n")
    port = free_port()
    sections: dict[str, dict[str, object]] = {
        "repo": {"remote": forge.url, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": tmp_path / "state", "poll": poll,
                 "ssh_key_file": forge.deploy_key, "known_hosts_file": forge.known_hosts},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"authors": ["becker@example.com"]},
        "limits": {"retries": 0, "command_timeout": "20s"},
        "projects.demo": {"path": tmp_path / "demo", "allow_shell": True},
    }
    if webhook:
        sections["webhook"] = {"listen": f"127.0.0.1:{port}", "secret_file": secret}
    config = write_config(tmp_path / "taskbot.toml", sections)  # type: ignore[arg-type]
    done = subprocess.run([str(TASKBOT), "init", "--config", str(config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return config, port


def _person(tmp_path: Path, forge: SshForge) -> Path:
    clone = forge.clone(tmp_path / "laptop")
    git(clone, "config", "user.email", "becker@example.com")
    git(clone, "config", "user.name", "Becker")
    return clone


def _push_task(clone: Path, name: str, text: str) -> str:
    path = clone / "tasks" / "active" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"add {name}")
    git(clone, "push", "-q", "origin", "HEAD:main")
    return git(clone, "rev-parse", "HEAD")


def _github_push(port: int, after: str, *, secret: str = SECRET,
                 delivery: str | None = None) -> int:
    body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": after,
                       "repository": {"full_name": "becker/tasks"}}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/webhook", body, {
        "Content-Type": "application/json", "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()), "X-Hub-Signature-256": signature})
    status = conn.getresponse().status
    conn.close()
    return status


def _bot_commit_on_main(forge: SshForge) -> bool:
    return git(forge.bare, "log", "-1", "--format=%ae", "main") == "taskbot@build-host"


def _await_listening(port: int) -> None:
    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(up, 10, f"the webhook listener on {port}")


def test_notes_already_on_the_forge_are_in_taskbots_first_clone(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    """taskbot pushes its notes ref with `+`: a first clone without the forge's notes (the
    deploy key not yet configured, a kill between clone and fetch) would erase them all.
    A kill's half-made clone is cleared, not used."""
    seed = git(ssh_forge.bare, "rev-parse", "main")
    git(ssh_forge.bare, "-c", "user.name=taskbot", "-c", "user.email=t@b", "notes",
        "--ref=taskbot", "add", "-m", "an earlier report", seed)
    clone = clone_path(tmp_path / "state", ssh_forge.url)
    (clone.parent / f"{clone.name}.partial" / ".git").mkdir(parents=True)  # a kill's leftover
    _setup(tmp_path, ssh_forge, poll="1h", webhook=False)
    assert git(clone, "notes", "--ref=taskbot", "show", seed) == "an earlier report"
    assert sorted(p.name for p in clone.parent.iterdir()) == [clone.name]


def test_a_signed_webhook_runs_the_task_and_the_commit_reaches_the_forge(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    config, port = _setup(tmp_path, ssh_forge, poll="1h", webhook=True)
    laptop = _person(tmp_path, ssh_forge)
    marker = tmp_path / "demo" / "ran"
    with running_daemon(config, tmp_path / "serve.log") as daemon:
        _await_listening(port)
        pushed = _push_task(laptop, "TASK-001.md", task_text(
            "TASK-001", [("Say hello", f"touch {marker}")]))
        assert _github_push(port, pushed, secret="wrong") == 401
        delivery = str(uuid.uuid4())
        assert _github_push(port, pushed, delivery=delivery) == 202
        wait_until(lambda: _bot_commit_on_main(ssh_forge), 30, "taskbot's commit on the forge")
        assert _github_push(port, pushed, delivery=delivery) == 200  # a replay queues nothing
        log = daemon.stderr()
    message = git(ssh_forge.bare, "log", "-1", "--format=%B", "main")
    assert "Task-Id: TASK-001" in message and f"Triggered-By: {pushed}" in message
    assert "- [x] Say hello" in git(ssh_forge.bare, "show", "main:tasks/active/TASK-001.md")
    note = git(ssh_forge.bare, "notes", "--ref=taskbot", "show", "main")
    assert "TASK-001" in note
    assert marker.exists()
    assert git(ssh_forge.bare, "branch", "--list", "taskbot/*") == ""
    # The deploy key appears nowhere but in its own file.
    key = ssh_forge.deploy_key.read_text().strip().splitlines()[1]
    seen = [log, (tmp_path / "state" / "status.json").read_text(), note, message]
    seen += [p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*")
             if p.is_file() and p.stat().st_size < 1 << 20]
    assert not any(key in text for text in seen)


def test_a_lost_webhook_is_made_up_for_by_polling(tmp_path: Path, ssh_forge: SshForge) -> None:
    config, _ = _setup(tmp_path, ssh_forge, poll="2s", webhook=False)
    laptop = _person(tmp_path, ssh_forge)
    with running_daemon(config, tmp_path / "serve.log"):
        _push_task(laptop, "TASK-002.md", task_text("TASK-002", [("Works", "true")]))
        pushed_at = time.monotonic()
        wait_until(lambda: _bot_commit_on_main(ssh_forge), 30, "taskbot's commit on the forge")
        took = time.monotonic() - pushed_at
    assert took < 2 + 1 + 10  # the interval, a second, and the run itself on a busy machine


def test_a_protected_main_gets_the_work_on_a_branch_and_a_pull_request_link(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    ssh_forge.pre_receive(
        "#!/bin/sh\nwhile read old new ref; do\n"
        "  if [ \"$ref\" = refs/heads/main ] && "
        "[ \"$(git log -1 --format=%ae $new)\" = taskbot@build-host ]; then\n"
        "    echo 'main is protected: open a pull request' >&2; exit 1\n  fi\ndone\n")
    config, port = _setup(tmp_path, ssh_forge, poll="1h", webhook=True)
    laptop = _person(tmp_path, ssh_forge)
    with running_daemon(config, tmp_path / "serve.log"):
        _await_listening(port)
        pushed = _push_task(laptop, "TASK-003.md", task_text("TASK-003", [("Works", "true")]))
        assert _github_push(port, pushed) == 202
        wait_until(lambda: bool(git(ssh_forge.bare, "branch", "--list", "taskbot/TASK-003")),
                   30, "taskbot/TASK-003 on the forge")
    assert git(ssh_forge.bare, "rev-parse", "main") == pushed  # main untouched
    reports = list((tmp_path / "state" / "reports").rglob("*.md"))
    text = "\n".join(p.read_text() for p in reports)
    assert "open a pull request for taskbot/TASK-003: https://127.0.0.1/" in text
    assert "compare/main...taskbot/TASK-003" in text


def test_an_https_forge_with_a_token_from_a_file(tmp_path: Path, http_forge: HttpForge) -> None:
    (tmp_path / "demo").mkdir()
    config = write_config(tmp_path / "taskbot.toml", {
        "repo": {"remote": http_forge.url, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": tmp_path / "state", "poll": "1s",
                 "token_file": http_forge.token_file},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"authors": ["becker@example.com"]},
        "limits": {"retries": 0},
        "projects.demo": {"path": tmp_path / "demo", "allow_shell": True},
    })
    ca = {"GIT_SSL_CAINFO": str(http_forge.ca_file)}  # the operator's CA, as for any git
    done = subprocess.run([str(TASKBOT), "init", "--config", str(config)], capture_output=True,
                          text=True, check=False, env={**os.environ, **ca})
    assert done.returncode == 0, done.stderr
    laptop = http_forge.clone(tmp_path / "laptop")
    git(laptop, "config", "user.email", "becker@example.com")
    git(laptop, "config", "user.name", "Becker")
    with running_daemon(config, tmp_path / "serve.log", **ca) as daemon:
        _push_task(laptop, "TASK-004.md", task_text("TASK-004", [("Works", "true")]))
        wait_until(lambda: git(http_forge.bare, "log", "-1", "--format=%ae", "main")
                   == "taskbot@build-host", 30, "taskbot's commit on the forge")
        log = daemon.stderr()
    clone = next((tmp_path / "state" / "clones").iterdir())
    config_text = git(clone, "config", "--list", "--show-origin")
    assert http_forge.token not in config_text and str(http_forge.token_file) in config_text
    assert http_forge.token not in log
    assert http_forge.token not in done.stdout + done.stderr


def _doctor(config: Path) -> tuple[int, str]:
    done = subprocess.run([str(TASKBOT), "--config", str(config), "doctor"],
                          capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def test_doctor_checks_the_forge_the_host_key_and_the_listener(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    config, port = _setup(tmp_path, ssh_forge, poll="1h", webhook=True)
    code, out = _doctor(config)
    assert "ok   forge: host key of [127.0.0.1]:" in out
    assert f"ok   forge: {ssh_forge.url} reachable, main at " in out
    assert (f"FAIL webhook: {config}: webhook.listen = 127.0.0.1:{port}: nothing listens "
            "there") in out and code == 1
    with running_daemon(config, tmp_path / "serve.log"):
        _await_listening(port)
        code, out = _doctor(config)
    assert f"ok   webhook: http://127.0.0.1:{port}/webhook answers" in out
    ssh_forge.known_hosts.write_text("")  # the forge's host key no longer known
    code, out = _doctor(config)
    assert code == 1 and "has no key for [127.0.0.1]:" in out
    assert "not reachable with the configured credentials" in out


def test_a_forge_that_does_not_answer_delays_the_item_and_fails_nothing(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    from bot.daemon import spool

    config, _ = _setup(tmp_path, ssh_forge, poll="1h", webhook=False)
    laptop = _person(tmp_path, ssh_forge)
    state = tmp_path / "state"
    pushed = _push_task(laptop, "TASK-005.md", task_text("TASK-005", [("Works", "true")]))
    away = ssh_forge.bare.with_name("away.git")
    ssh_forge.bare.rename(away)  # the forge answers, but not with the repository
    with running_daemon(config, tmp_path / "serve.log") as daemon:
        spool.enqueue(state, [f"{'0' * 40} {pushed} refs/heads/main"])
        wait_until(lambda: "not reachable" in daemon.stderr(), 15, "the daemon to say so")
        assert list((state / "queue").glob("*.push"))  # still queued …
        assert not list((state / "queue" / "failed").glob("*"))  # … not failed
        away.rename(ssh_forge.bare)
        spool.enqueue(state, [f"{'0' * 40} {pushed} refs/heads/main"])  # wakes it at once
        wait_until(lambda: _bot_commit_on_main(ssh_forge), 30, "taskbot's commit on the forge")


def test_a_poll_after_the_daemon_fetched_wakes_nothing_and_waits_an_interval(
        tmp_path: Path, ssh_forge: SshForge) -> None:
    config_path, _ = _setup(tmp_path, ssh_forge, poll="1h", webhook=False)
    woken: list[list[str]] = []
    poller = Poller(configmod.load(config_path), tmp_path / "state", lambda lines: woken.append(
        list(lines)), lambda _line: None, last_tip="")
    tip_now = git(ssh_forge.bare, "rev-parse", "main")
    poller.reached(tip_now)  # what a webhook's item just processed
    assert poller.due_in() > 3000
    poller._next = 0.0  # the hour has passed
    poller.poll_if_due()
    assert woken == [] and poller.state.reachable


def test_a_forge_that_stalls_mid_answer_counts_as_unreachable_in_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The poll runs in the daemon's loop: a forge that takes the connection and never
    answers must not hold it past the watchdog."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"https://127.0.0.1:{silent.getsockname()[1]}/o/tasks.git"
        config = configmod.parse({"repo": {"remote": url, "state_dir": str(tmp_path / "state"),
                                           "poll": "1m"}}, str(tmp_path / "taskbot.toml"))
        clone = clone_path(tmp_path / "state", url)  # made by `taskbot init` when it answered
        clone.mkdir(parents=True)
        git(clone, "init", "-q")
        git(clone, "remote", "add", "origin", url)
        monkeypatch.setattr(poll, "ASK_TIMEOUT", 1.0)
        said: list[str] = []
        poller = Poller(config, tmp_path / "state", lambda _lines: None, said.append)
        started = time.monotonic()
        poller.poll_if_due()
        assert time.monotonic() - started < 15
    assert not poller.state.reachable and said[0].startswith("forge not reachable")
