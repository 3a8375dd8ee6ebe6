"""kill -9 the daemon at random points of a stream of pushes; count what went wrong.

A bare tasks repository with the hook, `taskbot serve` (hook mode) started and killed with
SIGKILL again and again. Meanwhile a trusted person pushes new tasks and new criteria
(`shell` commands that append a unique id to a ledger file, then sleep a little so that
kills land mid-command; some fail on purpose), edits prose lines of tasks while taskbot
pushes its own commits (a person who pulls: fetch, re-apply, push, retried), and pushes
while the daemon is down; an untrusted author pushes criteria that must never run. At the
end the daemon is started once more and left to drain, then the columns are counted:

  ran_twice       a criterion id twice in the ledger, not marked "interrupted, run again"
  runs_lost       a trusted criterion whose outcome is nowhere (no tick, no failure line,
                  no kept taskbot/<ID> branch), or that ran but is ticked nowhere
  broken_commits  `git fsck --strict` errors, or a taskbot commit on main whose trailers
                  lack Task-Id, Task-Result or Taskbot-Run
  edits_lost      a prose line the person pushed that is missing from main
  unauthorized    UNAUTHORIZED lines in the ledger

Target: 0 in every column but kills and pushes; exits 1 otherwise. `--smoke`: 10 kills.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import TASKBOT, env

from bot.commands import sandbox
from bot.commands.sandbox import ServeProcess, make_repos, serving
from bot.daemon import spool

PERSON = "person@example.com"
MALLORY = "mallory@example.com"
TRAILERS = ("Task-Id", "Task-Result", "Taskbot-Run")
CHECKED = ("ran_twice", "runs_lost", "broken_commits", "edits_lost", "unauthorized")
PUSH_RETRIES = 30
DRAIN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Criterion:
    cid: str
    rel: str  # the task file it was added to
    task_id: str
    fails: bool


@dataclass
class Box:
    root: Path
    bare: Path
    clone: Path
    config: Path
    state: Path
    ledger: Path
    rng: random.Random
    criteria: list[Criterion] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (rel, id) of the person's
    untrusted: list[str] = field(default_factory=list)  # rel of mallory's task files
    steps: int = 3  # at most this many workload steps per kill round
    pushes: int = 0
    kills: int = 0
    serial: int = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:05d}"


def _env(email: str) -> dict[str, str]:
    out = env()
    name = email.split("@", 1)[0]
    out.update({"GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email,
                "GIT_AUTHOR_NAME": name, "GIT_COMMITTER_NAME": name})
    return out


def git(cwd: Path, *args: str, email: str = PERSON) -> str:
    return sandbox.git(cwd, *args, env=_env(email))


def make_box(root: Path, seed: int) -> Box:
    (root / "project").mkdir(parents=True)
    bare, clone = make_repos(root, "tasks", env=_env(PERSON), readme="chaos\n")
    config = sandbox.write_config(root / "tasks.toml", {
        "repo": {"path": bare, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "identity": {"name": "taskbot", "email": "taskbot@chaos"},
        "trust": {"authors": [PERSON]},
        "limits": {"retries": 0, "command_timeout": "30s"},
        "projects.chaos": {"path": root / "project", "allow_shell": True},
    })
    subprocess.run([str(TASKBOT), "init", "--config", str(config)], env=env(), check=True,
                   capture_output=True)
    return Box(root, bare, clone, config, root / "state", root / "LEDGER", random.Random(seed))  # noqa: S311 (chaos, not crypto)


# --- the person's and mallory's pushes ------------------------------------------------------

def _criterion_line(box: Box, cid: str, fails: bool, unauthorized: bool = False) -> str:
    sleep = f"0.0{box.rng.randint(1, 9)}"
    word = f"UNAUTHORIZED {cid}" if unauthorized else cid
    tail = "; exit 1" if fails else ""
    cmd = f"sh -c 'echo {word} >> {box.ledger}; sleep {sleep}{tail}'"
    return f'- [ ] Crit {cid} <!-- taskbot: shell project=chaos cmd="{cmd}" -->\n'


def _task_text(task_id: str, first: str) -> str:
    return (f"---\nid: {task_id}\ntitle: Chaos {task_id}\n---\n# {task_id}: Chaos\n\n"
            f"## Notes\n\nStarted.\n\n## Acceptance Criteria\n\n{first}")


def _add_criterion(text: str, line: str) -> str:
    head, sep, log = text.partition("\n## Progress Log")
    return head.rstrip("\n") + "\n" + line + (sep + log if sep else "")


def _add_marker(text: str, marker: str) -> str:
    return text.replace("\n## Acceptance Criteria", f"\nNote {marker}.\n\n## Acceptance Criteria",
                        1)


def push_change(box: Box, rel: str, change: Callable[[str | None], str], message: str,
                email: str = PERSON) -> bool:
    """Like a person who pulls: the change re-applied on the branch as it is now, pushed,
    retried while the branch moves (taskbot's pushes race this one). False: never got in."""
    for _ in range(PUSH_RETRIES):
        git(box.clone, "fetch", "-q", "origin", email=email)
        git(box.clone, "reset", "-q", "--hard", "origin/main", email=email)
        path = box.clone / rel
        old = path.read_text() if path.exists() else None
        sandbox.commit_file(box.clone, rel, change(old), message, env=_env(email))
        try:
            git(box.clone, "push", "-q", "origin", "HEAD:main", email=email)
        except subprocess.CalledProcessError:
            time.sleep(box.rng.uniform(0.01, 0.1))
            continue
        box.pushes += 1
        return True
    return False


def push_new_criterion(box: Box) -> None:
    cid = box.next_id("c")
    fails = box.rng.random() < 0.2
    line = _criterion_line(box, cid, fails)
    if not box.tasks or box.rng.random() < 0.25:
        task_id = f"TASK-{len(box.tasks) + 1:03d}"
        rel = f"tasks/active/{task_id}.md"
        if push_change(box, rel, lambda _: _task_text(task_id, line), f"new {task_id}"):
            box.tasks.append((rel, task_id))
            box.criteria.append(Criterion(cid, rel, task_id, fails))
        return
    rel, task_id = box.rng.choice(box.tasks)
    if push_change(box, rel, lambda t: _add_criterion(t or "", line), f"criterion {cid}"):
        box.criteria.append(Criterion(cid, rel, task_id, fails))


def push_marker(box: Box) -> None:
    if not box.tasks:
        return
    rel, _ = box.rng.choice(box.tasks[-3:])  # recent tasks: taskbot is likely busy with them
    marker = box.next_id("m")
    if push_change(box, rel, lambda t: _add_marker(t or "", marker), f"note {marker}"):
        box.markers.append(marker)


def push_untrusted(box: Box) -> str | None:
    """Mallory's criterion, in a task file only mallory touches; the sha pushed."""
    cid = box.next_id("u")
    line = _criterion_line(box, cid, False, unauthorized=True)
    if not box.untrusted or box.rng.random() < 0.5:
        task_id = f"TASK-9{len(box.untrusted) + 1:02d}"
        rel = f"tasks/active/{task_id}.md"
        change: Callable[[str | None], str] = lambda _: _task_text(task_id, line)  # noqa: E731
        box.untrusted.append(rel)
    else:
        rel = box.rng.choice(box.untrusted)
        change = lambda t: _add_criterion(t or "", line)  # noqa: E731
    if not push_change(box, rel, change, f"mallory {cid}", email=MALLORY):
        return None
    return git(box.clone, "rev-parse", "HEAD")


def workload_step(box: Box) -> None:
    push_new_criterion(box)
    if box.rng.random() < 0.5:
        push_marker(box)


# --- the daemon: start, kill, drain -----------------------------------------------------------

@contextlib.contextmanager
def daemon(box: Box) -> Iterator[ServeProcess]:
    with serving(box.config, box.root / "serve.log", env=env(), ready_timeout=60) as served:
        done = threading.Event()
        reader = threading.Thread(target=_read_notify, args=(served, done), daemon=True)
        reader.start()
        try:
            yield served
        finally:
            done.set()
            reader.join(5)
    with (box.root / "serve-all.log").open("a") as log:  # every start's log, for --keep
        log.write(served.stderr())


def _read_notify(served: ServeProcess, done: threading.Event) -> None:
    """Keep reading the daemon's sd_notify datagrams: a full socket would block its sends
    (systemd always reads them)."""
    while not done.is_set():
        with contextlib.suppress(OSError):
            served.notify.receive(0.1)
        del served.notify.messages[:-20]


def kill(box: Box, served: ServeProcess) -> None:
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGKILL)
    served.proc.wait(30)
    box.kills += 1


def _ledger_size(box: Box) -> int:
    try:
        return box.ledger.stat().st_size
    except FileNotFoundError:
        return 0


def _wait(condition: Callable[[], bool], timeout: float, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _status_state(box: Box) -> str:
    try:
        doc = json.loads((box.state / "status.json").read_text())
    except (OSError, ValueError):
        return ""
    return str((doc.get("daemon") or {}).get("state", "")) if isinstance(doc, dict) else ""


def quiescent(box: Box) -> bool:
    return (not spool.pending(box.state) and not (box.state / "journal.json").exists()
            and _status_state(box) == "idle")


def _tip(box: Box) -> str:
    with contextlib.suppress(OSError, ValueError):
        return str(json.loads((box.state / "tip.json").read_text()).get("sha", ""))
    return ""


def untrusted_round(box: Box, served: ServeProcess) -> None:
    """Mallory pushes alone: her range is processed with nothing of the person's in it (a
    range with an untrusted commit is refused whole, by design)."""
    if not _wait(lambda: quiescent(box), DRAIN_TIMEOUT, 0.02):
        raise TimeoutError("the daemon did not drain before mallory's push")
    sha = push_untrusted(box)
    if sha and not _wait(lambda: _tip(box) == sha or served.proc.poll() is not None, 30, 0.01):
        raise TimeoutError("mallory's push was not processed")


def kill_round(box: Box) -> None:
    """Start the daemon, push, kill it at a random moment; maybe push while it is down."""
    with daemon(box) as served:
        if box.rng.random() < 0.1:
            untrusted_round(box, served)
        how = box.rng.random()
        if how < 0.15:  # while it resumes what the last kill left
            time.sleep(box.rng.uniform(0, 0.3))
        else:
            before = _ledger_size(box)
            for _ in range(box.rng.randint(1, box.steps)):
                workload_step(box)
            if how < 0.6:  # mid-command: the ledger just grew
                _wait(lambda: _ledger_size(box) > before, 3)
                time.sleep(box.rng.uniform(0, 0.05))
            else:
                time.sleep(box.rng.uniform(0, 0.6))
        kill(box, served)
    for _ in range(box.rng.choice((0, 0, 1, 2))):
        workload_step(box)


def drain(box: Box) -> None:
    with daemon(box):
        if not _wait(lambda: quiescent(box), DRAIN_TIMEOUT, 0.05):
            raise TimeoutError("the daemon did not drain in time")
        time.sleep(0.3)  # a last push's hook line may still come
        if not _wait(lambda: quiescent(box), DRAIN_TIMEOUT, 0.05):
            raise TimeoutError("the daemon did not drain in time")


# --- the checks -------------------------------------------------------------------------------

def _files(bare: Path, rev: str) -> dict[str, str]:
    names = git(bare, "ls-tree", "-r", "--name-only", rev, "--", "tasks").splitlines()
    return {n: sandbox.git(bare, "show", f"{rev}:{n}", env=env(), strip=False) for n in names}


def _kept(bare: Path) -> dict[str, dict[str, str]]:
    refs = git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/taskbot/").splitlines()
    return {r.rsplit("/", 1)[-1]: _files(bare, r) for r in refs}


def _outcome(text: str, cid: str) -> tuple[bool, bool]:
    """(ticked, a log line names it) in one task file's text."""
    ticked = re.search(rf"^- \[[xX]\] Crit {cid}\b", text, re.M) is not None
    logged = re.search(rf"^- .*(Done|Failed|Blocked): Crit {cid}\b", text, re.M) is not None
    return ticked, logged


def _interrupted(texts: list[str], cid: str) -> bool:
    return any(re.search(rf"Crit {cid}\b.*interrupted, run again", t) for t in texts)


def count(box: Box) -> dict[str, int]:
    main = _files(box.bare, "main")
    kept = _kept(box.bare)
    ledger = box.ledger.read_text().splitlines() if box.ledger.exists() else []
    ran = Counter(line.strip() for line in ledger if not line.startswith("UNAUTHORIZED"))
    twice = lost = 0
    for c in box.criteria:
        texts = [t for t in (main.get(c.rel), kept.get(c.task_id, {}).get(c.rel)) if t]
        found = [_outcome(t, c.cid) for t in texts]
        if ran[c.cid] > 1 and not _interrupted(texts, c.cid):
            twice += 1
        done = any(tick or (c.fails and logged) for tick, logged in found)
        if not done or (ran[c.cid] and not c.fails and not any(t for t, _ in found)):
            lost += 1
            print(f"lost: {c}", file=sys.stderr)
    everything = "\n".join(main.values())
    edits_lost = sum(1 for m in box.markers if f"Note {m}." not in everything)
    return {"kills": box.kills, "pushes": box.pushes, "ran_twice": twice, "runs_lost": lost,
            "broken_commits": _broken(box), "edits_lost": edits_lost,
            "unauthorized": sum(1 for line in ledger if line.startswith("UNAUTHORIZED"))}


def _broken(box: Box) -> int:
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], check=False,
                          cwd=box.bare,
                          env=env(), capture_output=True, text=True, timeout=120)
    errors = [line for line in (fsck.stdout + fsck.stderr).splitlines()
              if line.startswith(("error", "fatal", "broken", "missing"))]
    if fsck.returncode and not errors:
        errors = [f"git fsck exited {fsck.returncode}"]
    on_main = set(git(box.bare, "rev-list", "main").splitlines())
    own_file = box.state / "own-commits"
    own = set(own_file.read_text().split()) if own_file.exists() else set()
    for sha in sorted(own & on_main):
        body = git(box.bare, "log", "-1", "--format=%B", sha)
        parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=body,
                                capture_output=True, text=True, env=env(), check=True).stdout
        keys = {line.split(":", 1)[0] for line in parsed.splitlines()}
        if not set(TRAILERS) <= keys:
            errors.append(f"{sha[:12]}: trailers {sorted(keys)}")
    for e in errors:
        print(f"broken: {e}", file=sys.stderr)
    return len(errors)


def table(columns: dict[str, int]) -> str:
    width = max(len(k) for k in columns)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in columns.items())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=None, help="kills (default 50)")
    parser.add_argument("--smoke", action="store_true", help="10 kills, fewer pushes (CI)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox and print it")
    args = parser.parse_args()
    args.kills = args.kills or (10 if args.smoke else 50)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)  # noqa: S311
    return args


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="taskbot-chaos-"))
    try:
        box = make_box(root, args.seed)
        box.steps = 2 if args.smoke else 3
        while box.kills < args.kills:
            kill_round(box)
        drain(box)
        columns = count(box)
    finally:
        if args.keep:
            print(f"sandbox kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(table(columns))
    print(f"seed: {args.seed}")
    print(f"elapsed: {time.monotonic() - started:.1f} s")
    bad = [k for k in CHECKED if columns[k]]
    print("verdict: " + (f"FAILED ({', '.join(bad)})" if bad else "0 in every column"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
