"""A queued item (a push, or a task queued again) → the tasks it runs.

Detection and trust read the source repository directly with pygit2; only when something
will run does taskbot touch its own worktree (`bot.pipeline.task.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

import pygit2

from bot import heartbeat
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import owncommits, pairdiff, read
from bot.git import write as gitrepo
from bot.git.detect import Change, changed_files, criteria_to_run
from bot.git.read import ZERO
from bot.git.trust import Verdict, check, check_file, is_bot_commit
from bot.pipeline import approvals, unlanded, waiters
from bot.pipeline.clone import source_repo, where
from bot.pipeline.items import Job, OnStatus, Processed, Push, Rerun, RunTask
from bot.pipeline.looks import NOT_LOOKED, Looked
from bot.pipeline.places import Places
from bot.pipeline.refusals import refused, refused_all
from bot.run.context import Handler
from bot.run.journal import Journal
from bot.state import waiting as waiting_store
from bot.state.memory import Memory
from bot.taskfile.treeindex import find_in_tree

__all__ = ["process", "quiet", "watch_target"]


def quiet(_: str) -> None:
    pass


def watch_target(config: Config) -> tuple[Path, str]:
    """Watch mode: the clone's git dir and the ref whose changes count."""
    return read.git_dir(config.repo.path), f"refs/heads/{config.repo.branch}"


def process(config: Config, handlers: Mapping[str, Handler], item: Push | Rerun, *,
            run_task: RunTask, now: datetime, should_stop: Callable[[], bool] = lambda: False,
            on_status: OnStatus = quiet, journal: Journal | None = None,
            memory: Memory | None = None) -> tuple[Processed, ...]:
    """With a journal, each step is recorded as it ends, and what it recorded already (a
    killed daemon's item resumed) is not done again. `run_task` runs one task of the item:
    `bot.pipeline.task.run`, passed by the caller (`bot.pipeline.process` does). `memory`:
    the process's caches, kept from one item to the next (the daemon's)."""
    job = Job(config, Places.of(config), handlers, now, should_stop, on_status, journal,
              run_task, memory=memory)
    if isinstance(item, Rerun):
        return (_rerun(job, item.task_id),)
    return _push(job, item)


def _push(job: Job, push: Push) -> tuple[Processed, ...]:
    config, places = job.config, job.places
    if push.ref != places.branch_ref or push.new == ZERO:
        return ()
    repo = read.open_repo(source_repo(config))
    # Walked once, for both questions trust asks below.
    pushed = read.walk(repo, push.old, push.new, (places.tasks_dir, places.tasks_root))
    own = owncommits.load(places.state, job.memory)  # taskbot's own commits: only its record
    old = None if push.old == ZERO else push.old
    # Approvals are recorded before any task runs: a task this push changes runs with them.
    approved = approvals.taken(config, places.state, repo, pushed, own)
    if all(is_bot_commit(c, own) for c in pushed.commits):
        # taskbot's own push triggers nothing — unless it is a kept branch a person merged
        # by fast-forward: its ticks landed now, and with them completed dependencies.
        if not unlanded.lands_kept_work(places, pushed):
            return ()
        unlanded.prune(places, repo, old, push.new)
        reruns = waiters.completed_waiters(places, repo, old, push.new, job.memory)
        return (Processed("-", None, None, reruns, "kept work merged"),) if reruns else ()
    # Trust first: nothing anyone pushed is read deeply (parsed, its dependencies looked
    # up) before its authors are judged. A range whose tasks root is not wholly trusted
    # neither completes dependencies nor ends an unlanded tick.
    root = check(pushed, config, own, scope=places.tasks_root)
    reruns = waiters.completed_waiters(places, repo, old, push.new, job.memory) if root.trusted else ()
    if root.trusted:
        unlanded.prune(places, repo, old, push.new)
    # The two tips' trees compared once: detection, trust and the worktree's reset use it.
    pair = pairdiff.of(repo, old, push.new)
    job = replace(job, pair=pair)
    changes = changed_files(repo, old, push.new, places.tasks_dir, pair)
    verdict = check(pushed, config, own) if changes else root
    out: list[Processed] = []
    refusals: list[tuple[str, str]] = []
    looked = Looked()
    for change in changes:
        heartbeat.beat()  # a push of many files is long, and alive
        why, indices = _judged(job, repo, push, verdict, own, change, looked)
        if why:
            refusals.append((change.path, why))
        elif indices:
            job.on_status(f"running {change.path}")
            out.append(_isolated(change.path, partial(job.run_task, job, change.path,
                                                      indices, push.new)))
    if refusals:
        out.insert(0, refused_all(job, refusals, f"push {push.new[:12]}"))
    out.extend(_approved(job, approved, push, {p.task_id for p in out}))
    if reruns:
        out.append(Processed("-", None, None, reruns, "dependencies completed"))
    elif not root.trusted and waiters.may_complete(places, repo, old, push.new):
        out.append(Processed("-", None, None, (), f"waiting tasks not queued again: "
                             f"push {push.new[:12]}: {root.reason}"))
    return tuple(out)


def _approved(job: Job, taken: approvals.Taken, push: Push, ran: set[str]
              ) -> tuple[Processed, ...]:
    """The push's approvals: the untrusted ones named in a refusal report (they start
    nothing); the tasks a trusted one names queued again, unless this push ran them."""
    out: list[Processed] = []
    if taken.untrusted:
        out.append(refused_all(job, taken.untrusted, f"approvals of push {push.new[:12]}"))
    again = tuple(t for t in taken.approved if t not in ran)
    if again:
        out.append(Processed("-", None, None, again, "approved: " + ", ".join(again)))
    return tuple(out)


def _judged(job: Job, repo: pygit2.Repository, push: Push, verdict: Verdict,
            own: frozenset[str], change: Change, looked: Looked
            ) -> tuple[str, tuple[int, ...]]:
    """Why the file is refused ('' when it is not), and the criteria to run. `looked`: the
    push's shallow looks so far (`bot.pipeline.looks`)."""
    if change.error:
        return change.error, ()
    refused_push = f"push {push.new[:12]} not run: "
    if not verdict.trusted:
        # Untrusted: only a shallow look, to tell whether the refusal is worth a report.
        brings = looked.brings_open_boxes(change)
        if brings is None:
            return refused_push + verdict.reason + NOT_LOOKED, ()
        return (refused_push + verdict.reason if brings else ""), ()
    try:
        indices = criteria_to_run(change.old, change.new, change.path)
    except TaskbotError as exc:
        return str(exc), ()
    if indices:
        # What runs must come wholly from trusted people, not only this push: its file's
        # whole history, followed through renames (moved in from backlog/, unticked).
        mine = check_file(repo, push.new, change.path, job.config, own, job.pair, job.memory)
        if not mine.trusted:
            return refused_push + mine.reason, ()
    return "", indices


def _rerun(job: Job, task_id: str) -> Processed:
    config, places = job.config, job.places
    found_where = where(config)
    clone = found_where.clone
    gitrepo.fetch(clone)  # a rerun starts from where the branch is now
    tip = read.resolve(clone, found_where.branch_rev)
    if tip is None:
        return Processed(task_id, None, None, message=f"branch {places.branch} not found")
    repo = read.open_repo(clone)
    found = find_in_tree(repo, tip, places.tasks_dir, task_id, job.memory)
    stale = waiters.stale(found)
    if stale:  # gone, moved to completed/ or done: nobody waits for it any more
        waiting_store.forget(places.state, task_id)
        return Processed(task_id, None, None, message=f"{task_id}: {stale} in "
                         f"{places.tasks_dir} on {places.branch}; not run again")
    assert found is not None
    rel = found[0]
    verdict = check_file(repo, tip, rel, config, owncommits.load(places.state, job.memory),
                         memory=job.memory)
    if not verdict.trusted:
        return refused(job, rel, f"{task_id} not run again: {verdict.reason}")
    job.on_status(f"running {task_id} again")
    return _isolated(task_id, lambda: job.run_task(job, rel, None, tip, found_where))


def _isolated(name: str, work: Callable[[], Processed]) -> Processed:
    """One task's failure (git, an unusable file) is reported; the other tasks still run."""
    try:
        return work()
    except TaskbotError as exc:
        return Processed(Path(name).stem, None, None, message=f"{name}: {exc}")
