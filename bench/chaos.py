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
`--groups`: every task of the person in four project groups that run side by side
(`bench/chaoslib.py`), so a kill lands with several criteria of a task in flight.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchlib import TASKBOT, env
from chaoslib import (
    CHECKED,
    GROUPS,
    MALLORY,
    PERSON,
    Box,
    Criterion,
    add_criterion,
    count,
    criterion_line,
    env_of,
    git,
    in_flight,
    table,
    task_text,
)

from bot.commands import sandbox
from bot.commands.sandbox import ServeProcess, TomlValue, make_repos, serving
from bot.daemon import spool

PUSH_RETRIES = 30
DRAIN_TIMEOUT = 120.0


def make_box(root: Path, seed: int, groups: bool = False) -> Box:
    (root / "project").mkdir(parents=True)
    bare, clone = make_repos(root, "tasks", env=env_of(PERSON), readme="chaos\n")
    projects: dict[str, dict[str, TomlValue]] = {
        "projects.chaos": {"path": root / "project", "allow_shell": True}}
    for g in range(GROUPS if groups else 0):  # one project per group: they run side by side
        (root / f"project{g}").mkdir()
        projects[f"projects.chaos{g}"] = {"path": root / f"project{g}", "allow_shell": True}
    config = sandbox.write_config(root / "tasks.toml", {
        "repo": {"path": bare, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "identity": {"name": "taskbot", "email": "taskbot@chaos"},
        "trust": {"authors": [PERSON]},
        "limits": {"retries": 0, "command_timeout": "30s", "parallel": GROUPS},
        **projects,
    })
    subprocess.run([str(TASKBOT), "init", "--config", str(config)], env=env(), check=True,
                   capture_output=True)
    return Box(root, bare, clone, config, root / "state", root / "LEDGER", random.Random(seed),  # noqa: S311 (chaos, not crypto)
               groups=groups)


# --- the person's and mallory's pushes ------------------------------------------------------

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
        sandbox.commit_file(box.clone, rel, change(old), message, env=env_of(email))
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
    group = box.rng.randrange(GROUPS) if box.groups else None
    line = criterion_line(box, cid, fails, group=group)
    if box.groups and (not box.tasks or box.rng.random() < 0.25):
        push_grouped_task(box, cid, fails)
        return
    if not box.tasks or box.rng.random() < 0.25:
        task_id = f"TASK-{len(box.tasks) + 1:03d}"
        rel = f"tasks/active/{task_id}.md"
        if push_change(box, rel, lambda _: task_text(task_id, line, group), f"new {task_id}"):
            box.tasks.append((rel, task_id))
            box.criteria.append(Criterion(cid, rel, task_id, fails))
        return
    rel, task_id = box.rng.choice(box.tasks)
    if push_change(box, rel, lambda t: add_criterion(t or "", line, group),
                   f"criterion {cid}"):
        box.criteria.append(Criterion(cid, rel, task_id, fails))


def push_grouped_task(box: Box, cid: str, fails: bool) -> None:
    """A new task with a criterion in each of its groups (`cid` in the first): its groups
    run side by side."""
    task_id = f"TASK-{len(box.tasks) + 1:03d}"
    rel = f"tasks/active/{task_id}.md"
    made = [(cid, fails)] + [(box.next_id("c"), box.rng.random() < 0.2)
                             for _ in range(1, GROUPS)]
    text = task_text(task_id, "", 0)
    for g, (one, bad) in enumerate(made):
        text = add_criterion(text, criterion_line(box, one, bad, group=g), g)
    if push_change(box, rel, lambda _: text, f"new {task_id}"):
        box.tasks.append((rel, task_id))
        box.criteria.extend(Criterion(one, rel, task_id, bad) for one, bad in made)


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
    line = criterion_line(box, cid, False, unauthorized=True)
    if not box.untrusted or box.rng.random() < 0.5:
        task_id = f"TASK-9{len(box.untrusted) + 1:02d}"
        rel = f"tasks/active/{task_id}.md"
        change: Callable[[str | None], str] = lambda _: task_text(task_id, line)  # noqa: E731
        box.untrusted.append(rel)
    else:
        rel = box.rng.choice(box.untrusted)
        change = lambda t: add_criterion(t or "", line)  # noqa: E731
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
    box.several_in_flight += in_flight(box.state) > 1


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=None, help="kills (default 50)")
    parser.add_argument("--smoke", action="store_true", help="10 kills, fewer pushes (CI)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox and print it")
    parser.add_argument("--groups", action="store_true",
                        help="the person's tasks in four project groups, run side by side")
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
        box = make_box(root, args.seed, args.groups)
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
    print(f"groups: {'four project groups a task, side by side' if args.groups else 'off'}")
    print(f"elapsed: {time.monotonic() - started:.1f} s")
    bad = [k for k in CHECKED if columns[k]]
    print("verdict: " + (f"FAILED ({', '.join(bad)})" if bad else "0 in every column"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
