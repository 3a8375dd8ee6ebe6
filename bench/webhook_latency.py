"""Webhook received → first handler started, in remote mode with the fetch from a local sshd.

The forge is the tests' stand-in: a bare repository behind a real `sshd` on 127.0.0.1
(deploy key, strict host-key checking). `taskbot serve` runs in remote mode with the
webhook listener and `poll = "1h"`, so only the webhook wakes it. Each round a person
appends one new criterion to a task — a `shell` action that writes `date +%s%N` to a
file — commits and pushes to the forge (not measured). Then the bench posts a
GitHub-signed push webhook and measures from just before the POST:
  - POST answered (the push is in the spool);
  - the handler's command wrote (it includes starting `sh` and `date`, shown as
    `command_start_overhead`);
  - `main` on the forge moved to taskbot's commit.
The daemon is let go idle (status.json) before the next round. Target: handler started,
median ≤ 100 ms. A breakdown hint: one `git ls-remote` and one `git fetch` from taskbot's
clone over the same sshd, measured apart.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import pwd
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from benchlib import ROOT, TASKBOT, command_overhead, env, git, median, ms, p90, parse_args, verdict, workdir

from bot.commands import sandbox
from bot.commands.demo_registry import free_port
from bot.commands.sandbox import ServeProcess, serving, stop_server
from bot.daemon.wake import InotifyWaker

# The forge stand-in lives in the tests' kit (tests/kit/forge.py); one copy serves the tests
# and this bench rather than a second sshd setup.
sys.path.insert(0, str(ROOT))
from tests.kit.forge import SshForge, start_ssh_forge

TARGET_START = 0.100
SECRET = "bench-webhook-secret-5c2e"  # noqa: S105 (the bench's own throwaway listener)
TASK = "tasks/active/TASK-001.md"

HEAD = """\
---
id: TASK-001
title: Webhook latency
---
# TASK-001: Webhook latency

## Acceptance Criteria
"""


def _config(root: Path, forge: SshForge, port: int) -> Path:
    (root / "project").mkdir()
    secret = root / "webhook.secret"
    secret.write_text(SECRET + "\n")
    return sandbox.write_config(root / "taskbot.toml", {
        "repo": {"remote": forge.url, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state", "poll": "1h",
                 "ssh_key_file": forge.deploy_key, "known_hosts_file": forge.known_hosts},
        "webhook": {"listen": f"127.0.0.1:{port}", "secret_file": secret},
        "identity": {"name": "taskbot", "email": "taskbot@bench"},
        "trust": {"anyone": True},
        "limits": {"retries": 0, "command_timeout": "30s"},
        "projects.bench": {"path": root / "project", "allow_shell": True},
    })


def _criterion(i: int, marks: Path) -> str:
    return f"- [ ] Mark {i} <!-- taskbot: shell project=bench cmd=\"sh -c 'date +%s%N > {marks}/{i}'\" -->\n"


def _add(body: str, line: str) -> str:
    """The task with one more criterion at the end of its Acceptance Criteria."""
    head, sep, log = body.partition("\n## Progress Log")
    return head.rstrip("\n") + "\n" + line + (sep + log if sep else "")


def _person_pushes(laptop: Path, i: int, marks: Path) -> str:
    """Pull taskbot's last commit, add criterion `i`, push to the forge; the pushed commit."""
    git(laptop, "pull", "-q", "--rebase", "origin", "main")
    path = laptop / TASK
    body = path.read_text() if path.exists() else HEAD
    sandbox.commit_file(laptop, TASK, _add(body, _criterion(i, marks)), f"mark {i}", env=env())
    git(laptop, "push", "-q", "origin", "HEAD:main")
    return git(laptop, "rev-parse", "HEAD")


def _post_webhook(port: int, after: str) -> int:
    """A GitHub push webhook, signed with the secret; the HTTP status."""
    body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": after,
                       "repository": {"full_name": "bench/tasks"}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/webhook", body, {
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": signature})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _main_sha(bare: Path) -> str:
    try:
        return (bare / "refs" / "heads" / "main").read_text().strip()
    except FileNotFoundError:
        return git(bare, "rev-parse", "main")


def _wait_main_moves(bare: Path, waker: InotifyWaker, pushed: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _main_sha(bare) != pushed:
            return time.time_ns()
        waker.wait(deadline - time.monotonic())
    raise TimeoutError("no bot commit on the forge's main")


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def _idle(state: Path) -> bool:
    """status.json says idle and the spool is empty."""
    try:
        daemon = json.loads((state / "status.json").read_text()).get("daemon")
    except (OSError, ValueError):
        return False
    queue = state / "queue"
    pending = queue.is_dir() and any(queue.glob("*.push"))
    return isinstance(daemon, dict) and daemon.get("state") == "idle" and not pending


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _picked_up(log: Path, pushed: str) -> float:
    """When the daemon logged that it took the wake-up from the spool (millisecond times)."""
    for line in log.read_text().splitlines():
        if "processing push " in line and f"..{pushed[:8]} " in line:
            return datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
    raise LookupError(f"push {pushed[:8]} not in the daemon's log")


def _timed(argv: list[str], cwd: Path, n: int = 5) -> float:
    """The median wall time of `argv` over `n` runs."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env(), check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return median(times)


def _login_shell_cost(root: Path) -> tuple[str, float | None]:
    """The forge user's login shell and, for bash, what reading its ~/.bashrc costs: sshd
    runs every git command through that shell, and bash reads ~/.bashrc for ssh commands."""
    user = pwd.getpwuid(os.getuid())
    rc = Path(user.pw_dir) / ".bashrc"
    if not user.pw_shell.endswith("bash") or not rc.is_file():
        return user.pw_shell, None
    return user.pw_shell, _timed(["bash", "-c", f". {rc}"], root) - _timed(["bash", "-c", ":"], root)


@dataclass(frozen=True)
class Figures:
    answered: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    pickups: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Rig:
    root: Path
    forge: SshForge
    port: int
    laptop: Path
    served: ServeProcess
    waker: InotifyWaker

    fingerprint: str  # of the deploy key, as sshd logs it

    @property
    def marks(self) -> Path:
        return self.root / "marks"

    def connections(self) -> int:
        """taskbot's ssh logins so far (sshd logs each accepted key)."""
        text = (self.forge.root / "sshd.log").read_text(errors="replace")
        return sum(1 for line in text.splitlines()
                   if "Accepted publickey" in line and self.fingerprint in line)


def _round(rig: Rig, i: int, figures: Figures | None) -> None:
    pushed = _person_pushes(rig.laptop, i, rig.marks)
    logins = rig.connections()
    before = time.time_ns()
    status = _post_webhook(rig.port, pushed)
    answered = time.time_ns()
    if status != 202:
        raise RuntimeError(f"the webhook was answered {status}, not 202")
    committed = _wait_main_moves(rig.forge.bare, rig.waker, pushed)
    started = int((rig.marks / str(i)).read_text())
    if figures is not None:
        figures.answered.append((answered - before) / 1e9)
        figures.starts.append((started - before) / 1e9)
        figures.commits.append((committed - before) / 1e9)
        figures.pickups.append(_picked_up(rig.served.log, pushed) - before / 1e9)
    _wait(lambda: _idle(rig.root / "state"), "the daemon did not go idle")
    if figures is not None:
        figures.connections.append(rig.connections() - logins)


def _fingerprint(key: Path) -> str:
    done = subprocess.run(["ssh-keygen", "-lf", str(key)], check=True, capture_output=True,
                          text=True)
    return done.stdout.split()[1]


def _measure(root: Path, forge: SshForge, n: int) -> tuple[Figures, float, float]:
    port = free_port()
    config = _config(root, forge, port)
    subprocess.run([str(TASKBOT), "init", "--config", str(config)], env=env(), check=True,
                   capture_output=True)
    laptop = forge.clone(root / "laptop")
    (root / "marks").mkdir()
    figures = Figures()
    with serving(config, root / "serve.log", env=env()) as served:
        try:
            _wait(lambda: _listening(port), f"the webhook listener on {port}", 30)
            _wait(lambda: _idle(root / "state"), "the daemon did not go idle after start")
            waker = InotifyWaker([forge.bare / "refs" / "heads"])
            try:
                rig = Rig(root, forge, port, laptop, served, waker, _fingerprint(forge.deploy_key))
                for i in range(n + 1):  # round 0 warms up the daemon's clone and caches
                    _round(rig, i, figures if i else None)
            finally:
                waker.close()
        except BaseException:
            tail = served.stderr().splitlines()[-20:]
            print("daemon log (last lines):", *tail, sep="\n  ", file=sys.stderr)
            raise
    clone = next((root / "state" / "clones").iterdir())
    ls_remote = _timed(["git", "ls-remote", "--heads", "origin", "refs/heads/main"], clone)
    fetch = _timed(["git", "fetch", "--quiet", "origin"], clone)
    return figures, ls_remote, fetch


def _report(f: Figures, ls_remote: float, fetch: float, overhead: float,
            shell: tuple[str, float | None]) -> None:
    print(f"webhook_latency.rounds: {len(f.starts)}")
    print(f"webhook_latency.post_answered_median: {ms(median(f.answered))}")
    print(f"webhook_latency.post_answered_p90: {ms(p90(f.answered))}")
    ok = median(f.starts) <= TARGET_START
    print(f"webhook_latency.handler_start_median: {ms(median(f.starts))} "
          f"(target <= {ms(TARGET_START)}: {verdict(ok)})")
    print(f"webhook_latency.handler_start_p90: {ms(p90(f.starts))}")
    print(f"webhook_latency.bot_commit_median: {ms(median(f.commits))} "
          "(webhook → taskbot's commit on the forge's main)")
    print(f"webhook_latency.bot_commit_p90: {ms(p90(f.commits))}")
    print(f"webhook_latency.daemon_pickup_median: {ms(median(f.pickups))} "
          "(webhook → the daemon takes the wake-up from the spool)")
    print(f"webhook_latency.pickup_to_handler_median: "
          f"{ms(median([s - p for s, p in zip(f.starts, f.pickups, strict=True)]))} "
          "(fetch from the forge, detection, trust, worktree, … up to the handler's command)")
    print(f"webhook_latency.ssh_logins_per_round: {median(f.connections):.0f} "
          "(taskbot's connections to the forge from the webhook to idle)")
    print(f"webhook_latency.command_start_overhead: {ms(overhead)} (sh + date, included above)")
    print(f"webhook_latency.ls_remote_alone: {ms(ls_remote)} (one `git ls-remote` over this sshd)")
    print(f"webhook_latency.fetch_alone: {ms(fetch)} (one `git fetch` over this sshd, nothing new)")
    if fetch > TARGET_START:
        login, bashrc = shell
        cost = f"; sourcing its ~/.bashrc alone takes {ms(bashrc)}" if bashrc is not None else ""
        print(f"webhook_latency.note: the fetch alone exceeds the target: every ssh connection "
              f"to this sshd runs the git command through the forge user's login shell "
              f"({login}){cost}. A forge's git-only shell does not pay that.")


def _git_only_user(root: Path, forge: SshForge) -> str | None:
    """A throw-away forge account whose login shell is /bin/sh, as on a real forge (GitHub,
    Gitea and GitLab run git for a key, not a person's interactive shell setup). Root only;
    removed afterwards."""
    if os.geteuid() != 0:
        return None
    user = f"tbforge{os.getpid()}"
    made = subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--home-dir",
                           str(root / "forge-home"), "--create-home", user],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return None
    subprocess.run(["usermod", "-p", "*", user], check=True, capture_output=True)  # key login
    subprocess.run(["chown", "-R", user, str(forge.bare)], check=True)
    for folder in (root, *root.parents):  # the forge account must reach its repository
        if folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o055)
    return user


def main() -> None:
    args = parse_args(__doc__, default_n=20, smoke_n=2,
                      extra=[("--git-user", "a forge account whose login shell is /bin/sh "
                              "(root only), instead of the current user's")])
    for name in ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT"):
        os.environ.pop(name, None)  # would override the forge's keys (the person's clone)
    with workdir() as root:
        forge, proc = start_ssh_forge(root / "forge")
        user = _git_only_user(root, forge) if args.git_user else None
        if user is not None:
            forge = replace(forge, url=forge.url.replace(
                f"//{pwd.getpwuid(os.getuid()).pw_name}@", f"//{user}@"))
        try:
            figures, ls_remote, fetch = _measure(root, forge, args.n)
        finally:
            stop_server(proc)
            if user is not None:
                subprocess.run(["userdel", user], check=False, capture_output=True)
        marks = root / "marks"
        overhead = command_overhead(marks)
        shell = _login_shell_cost(root)
    _report(figures, ls_remote, fetch, overhead, shell)


if __name__ == "__main__":
    main()
