"""What `bench/chaos.py` works on and counts: the sandbox (`Box`), the criteria pushed, git as
the person or mallory, task texts (flat, or in four project groups), and the checks.

`--groups`: every task of the person has four sub-headings of the Acceptance Criteria,
`### G0` … `### G3`, each of whose criteria runs in its own project (`chaos0` … `chaos3`):
four independent project groups, which taskbot runs side by side (`limits.parallel`),
so that kills land with several criteria of one task in flight.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import env

from bot.commands import sandbox

PERSON = "person@example.com"
MALLORY = "mallory@example.com"
TRAILERS = ("Task-Id", "Task-Result", "Taskbot-Run")
CHECKED = ("ran_twice", "runs_lost", "broken_commits", "edits_lost", "unauthorized")
GROUPS = 4  # --groups: project groups per task


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
    groups: bool = False  # --groups: the person's tasks have four project groups
    several_in_flight: int = 0  # kills that found more than one criterion in flight
    pushes: int = 0
    kills: int = 0
    serial: int = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:05d}"


def env_of(email: str) -> dict[str, str]:
    out = env()
    name = email.split("@", 1)[0]
    out.update({"GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email,
                "GIT_AUTHOR_NAME": name, "GIT_COMMITTER_NAME": name})
    return out


def git(cwd: Path, *args: str, email: str = PERSON) -> str:
    return sandbox.git(cwd, *args, env=env_of(email))



# --- task texts ----------------------------------------------------------------------------

def criterion_line(box: Box, cid: str, fails: bool, unauthorized: bool = False,
                   group: int | None = None) -> str:
    # in groups a little longer, so that kills land with several groups' commands running
    sleep = f"0.0{box.rng.randint(1, 9)}" if group is None else f"0.{box.rng.randint(1, 4)}"
    word = f"UNAUTHORIZED {cid}" if unauthorized else cid
    tail = "; exit 1" if fails else ""
    cmd = f"sh -c 'echo {word} >> {box.ledger}; sleep {sleep}{tail}'"
    project = "chaos" if group is None else f"chaos{group}"
    return f'- [ ] Crit {cid} <!-- taskbot: shell project={project} cmd="{cmd}" -->\n'


def task_text(task_id: str, first: str, group: int | None = None) -> str:
    head = (f"---\nid: {task_id}\ntitle: Chaos {task_id}\n---\n# {task_id}: Chaos\n\n"
            "## Notes\n\nStarted.\n\n## Acceptance Criteria\n\n")
    if group is None:
        return head + first
    return head + "".join(f"### G{g}\n" + (first if g == group else "")
                          for g in range(GROUPS))


def add_criterion(text: str, line: str, group: int | None = None) -> str:
    """The line at the end of the Acceptance Criteria, or of its group `### G<group>`."""
    if group is None:
        head, sep, log = text.partition("\n## Progress Log")
        return head.rstrip("\n") + "\n" + line + (sep + log if sep else "")
    heading = f"\n### G{group}\n"
    start = text.index(heading) + len(heading)
    ends = [i + 1 for i in (text.find("\n### ", start - 1), text.find("\n## ", start - 1))
            if i != -1]
    end = min(ends) if ends else len(text)
    body = text[start:end].rstrip("\n")
    rest = text[end:]
    return text[:start] + (body + "\n" if body else "") + line + ("\n" if rest else "") + rest


# --- the checks -------------------------------------------------------------------------------

def in_flight(state: Path) -> int:
    """How many criteria the journal says are running (read right after a kill)."""
    try:
        doc = json.loads((state / "journal.json").read_text())
    except (OSError, ValueError):
        return 0
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    return sum(len(t.get("flight") or ([t["running"]] if t.get("running") else []))
               for t in (tasks or {}).values() if isinstance(t, dict))


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
    return {"kills": box.kills, "several_in_flight": box.several_in_flight,
            "pushes": box.pushes, "ran_twice": twice, "runs_lost": lost,
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


