"""The pipeline as the daemon sees it: a spool line in, processed tasks out, exactly once.

A push line is only a wake-up: the range processed is taskbot's own record of the last
processed tip (`bot.daemon.tip`) .. the branch's tip now. Every item runs under a
journal (`bot.run.journal`); `resume` finishes the item a killed daemon left, first killing
the process groups it had running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.daemon import spool, tip
from bot.daemon.contract import Backend, Log
from bot.errors import TaskbotError
from bot.forge import remote
from bot.git import read
from bot.pipeline.items import OnStatus, Processed, Push, Rerun
from bot.pipeline.stage import process as process_item
from bot.pipeline.stage import watch_target as branch_ref_target
from bot.pipeline.task import run as run_task
from bot.pipeline.writeback import repair_notes
from bot.run.context import Handler
from bot.run.journal import Journal, kill_recorded, pending_tasks
from bot.run.runner import State
from bot.state.memory import Memory
from bot.state.statedir import CLONES, TIP


def is_watch_mode(config: Config) -> bool:
    """A clone is watched; a bare repository gets pushes through the hook."""
    return not config.repo.remote and read.mode(config.repo.path) == "clone"


def pipeline_backend(config: Config, handlers: Mapping[str, Handler], log: Log) -> Backend:
    state = Path(config.repo.state_dir).absolute()
    ref = f"refs/heads/{config.repo.branch}"
    # The record as this process last wrote it: should the state dir be removed under the
    # daemon, the pushes after it are still processed from there, not skipped.
    tips: dict[str, str] = {}  # each branch's tip as last written to tip.json
    flight = _Flight()
    kept = Memory()  # the caches every item reads through, for as long as the daemon runs

    def remember(sha: str) -> None:
        tip.save(state, ref, sha)
        tips[ref] = sha

    def run(item: Push | Rerun, journal: Journal, should_stop: Callable[[], bool],
            on_status: OnStatus, now: datetime) -> Sequence[Processed]:
        with flight.working(journal.item):
            out = process_item(config, handlers, item, run_task=run_task, now=now,
                               should_stop=should_stop, on_status=on_status, journal=journal,
                               memory=kept)
        # Tasks ready again, and tasks a stop interrupted before some criteria ran, go to the
        # spool before the item is marked done: a kill in between then repeats the item (its
        # journal skips what was done) instead of losing them.
        reruns = [t for p in out for t in p.reruns] + [p.task_id for p in out if _interrupted(p)]
        if reruns:
            spool.enqueue_reruns(state, reruns, on_skip=log)
            log(f"queued again: {', '.join(dict.fromkeys(reruns))}")
        if isinstance(item, Push):
            remember(item.new)
        journal.finish()
        return [replace(p, reruns=()) for p in out]

    def process(line: spool.Line, should_stop: Callable[[], bool],
                on_status: OnStatus, now: datetime) -> Sequence[Processed]:
        if line.kind == "rerun":
            journal = Journal.begin(state, {"kind": "rerun", "task": line.task_id})
            return run(Rerun(line.task_id), journal, should_stop, on_status, now)
        if tip.load(state, ref) is None and ref in tips:
            log(f"{state / TIP} is gone: written again from memory")
            remember(tips[ref])
        push = _range(config, state, ref, line, log)
        if push is None:
            return ()
        journal = Journal.begin(state, {"kind": "push", "old": push.old, "new": push.new,
                                        "ref": push.ref})
        return run(push, journal, should_stop, on_status, now)

    def resume(should_stop: Callable[[], bool], on_status: OnStatus,
               now: datetime) -> Sequence[Processed]:
        current = _branch_tip(config, state, ref)
        if current is not None and tip.load(state, ref) is None:
            remember(current)
            log(f"first start: processing {ref} from {current[:12]} on")
        journal = Journal.load(state)
        if journal is not None:
            killed = kill_recorded(journal.running_groups())
            if killed:
                log(f"killed process groups left running by the previous daemon: {killed}")
        stale = remove_stale_locks(state)  # before any git runs in taskbot's clones
        if stale:
            log(f"removed lock files a killed git left in taskbot's own clones: {stale}")
        _repair_notes(config, log)
        if journal is None:
            return ()
        for _, task in pending_tasks(journal):
            task.resume_interrupted()
        item = journal.item
        log(f"resuming the item a stopped daemon left: {_describe(item)}")
        if item.get("kind") == "rerun":
            return run(Rerun(str(item["task"])), journal, should_stop, on_status, now)
        push = Push(str(item["old"]), str(item["new"]), str(item["ref"]))
        return run(push, journal, should_stop, on_status, now)

    def watch_target() -> tuple[Path, str]:
        return branch_ref_target(config)

    return Backend(process, watch_target if is_watch_mode(config) else None, resume,
                   flight.current, partial(_quarantine, state, ref, remember))


class _Flight:
    """The journal item being worked on, for the stall guard's record."""

    def __init__(self) -> None:
        self._item: Mapping[str, Any] = {}

    @contextlib.contextmanager
    def working(self, item: Mapping[str, Any]) -> Iterator[None]:
        self._item = item
        try:
            yield
        finally:
            self._item = {}

    def current(self) -> Mapping[str, Any]:
        return dict(self._item)


def _quarantine(state: Path, ref: str, remember: Callable[[str], None],
                stalled: Mapping[str, Any]) -> str:
    """The stalled item is set aside, never resumed: its journal moved aside, and a push's
    range skipped; says what was not run.

    The guard records the item from another thread, and the main thread may have finished
    it and begun the next before the process image was replaced: a journal on disk that is
    not the stalled item's is the next item's, resumed as usual; and the record of the last
    processed commit moves only from where the stalled range began, never back."""
    journal = Journal.load(state)
    item = dict(stalled)
    if journal is not None and (not item or dict(journal.item) == item):
        kill_recorded(journal.running_groups())
        item = dict(journal.item)
        journal.set_aside("stalled")
    if not item:
        return ""
    if item.get("kind") == "push" and item.get("ref") == ref and item.get("new"):
        if tip.load(state, ref) != item.get("old"):
            return f"{_describe(item)} had finished before taskbot started afresh"
        remember(str(item["new"]))
        return (f"commits {str(item.get('old'))[:12]}..{str(item['new'])[:12]} are not run; "
                "run their tasks by hand (taskbot run TASK) once the cause is fixed")
    return f"{_describe(item)} is not run again"


def _repair_notes(config: Config, log: Log) -> None:
    try:
        repaired = repair_notes(config)
    except TaskbotError as exc:
        log(f"cannot check taskbot's git notes: {exc}")
        return
    if repaired:
        log(f"git notes repaired for {len(repaired)} commit(s): "
            f"{', '.join(s[:12] for s in repaired)}")


def _interrupted(p: Processed) -> bool:
    return p.report is not None and any(r.state is State.INTERRUPTED for r in p.report.results)


def remove_stale_locks(state: Path) -> list[str]:
    """The `*.lock` files under taskbot's own clones (`state_dir/clones`, worktrees' admin
    dirs included). A git killed with the daemon leaves them behind, and every later git
    command on that ref or index fails ("remove the file manually to continue"): the task's
    runs would be lost for good. Called before anything runs: only the daemon, which holds
    the spool lock, uses these clones, and its git children died with the previous daemon
    (PR_SET_PDEATHSIG). A watched clone (watch mode) is the person's and is left alone."""
    removed: list[str] = []
    clones = state / CLONES
    for lock in sorted(clones.glob("*/.git/**/*.lock")) if clones.is_dir() else ():
        with contextlib.suppress(OSError):
            if lock.is_file() and not lock.is_symlink():
                lock.unlink()
                removed.append(str(lock.relative_to(state)))
    return removed


def _branch_tip(config: Config, state: Path, ref: str) -> str | None:
    """The branch's tip now; from a forge, fetched first (the payload or line that woke taskbot
    is not trusted for it)."""
    if config.repo.remote:
        return remote.fetch_tip(remote.from_config(config), state, config.repo.branch)
    return read.resolve(config.repo.path, ref)


def _range(config: Config, state: Path, ref: str, line: spool.Line, log: Log) -> Push | None:
    """last processed .. the branch now; None when there is nothing new (or no record yet:
    then the tip now is recorded and what came before is not taskbot's to run)."""
    if line.ref != ref:
        return None
    current = _branch_tip(config, state, ref)
    if current is None:
        log(f"{config.repo.remote or config.repo.path}: {ref} does not exist; nothing to process")
        return None
    last = tip.load(state, ref)
    if last is None:
        tip.save(state, ref, current)
        log(f"no record of the last processed commit: starting from {current[:12]}; "
            "earlier commits are not run")
        return None
    if line.new != current:
        log(f"the spool line names {line.new[:12]}; processing {last[:12]}..{current[:12]} "
            "(taskbot's own record .. the branch now)")
    if last == current:
        return None
    return Push(last, current, ref)


def _describe(item: Mapping[str, object]) -> str:
    if item.get("kind") == "rerun":
        return f"rerun {item.get('task')}"
    return f"push {str(item.get('old'))[:8]}..{str(item.get('new'))[:8]} {item.get('ref')}"
