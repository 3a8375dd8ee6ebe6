"""One task of an item, run in taskbot's worktree: its criteria, then the write-back, with
each step recorded in the item's journal so that a resumed item does none twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath

import pygit2

from bot.config import Config
from bot.dashboard import committed as dashboard_committed
from bot.dashboard import in_commit
from bot.forge import remote
from bot.git import folders, read
from bot.git.messages import task_commit
from bot.git.target import Integrated
from bot.git.worktree import settle, worktree
from bot.notify import redactor
from bot.notify.publish import publish_report
from bot.pipeline import progress, writeback
from bot.pipeline import unlanded as kept
from bot.pipeline.clone import where
from bot.pipeline.items import Job, Processed, step
from bot.pipeline.places import Places, Where
from bot.pipeline.refusals import refused
from bot.run.context import Context
from bot.run.journal import TaskJournal, Unlanded
from bot.run.report import to_markdown
from bot.run.runmodel import TaskResult, new_run_id
from bot.run.taskrun import RunOptions, run_task
from bot.state import approvals
from bot.state import waiting as waiting_store
from bot.taskfile.lookup import State
from bot.taskfile.merge import reapply
from bot.taskfile.model import DependencyState
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.treeindex import tree_dependency_state

__all__ = ["run"]


def run(job: Job, rel_path: str, indices: tuple[int, ...] | None, start: str,
        found: Where | None = None) -> Processed:
    config, places = job.config, job.places
    found = found or where(config)
    clone = found.clone
    task_id = _task_id(clone, start, rel_path, job)
    if not pygit2.reference_is_valid_name(f"refs/heads/taskbot/{task_id}"):
        return refused(job, rel_path, f"{rel_path}: its id {task_id!r} cannot name taskbot's "
                       f"work branch (taskbot/{task_id}); give the task an id git takes "
                       "as a branch name")
    tj = job.journal.task(rel_path) if job.journal is not None else None
    published = tj.step("published") if tj is not None else None
    if published:  # done before a restart: only what it owed the queue is handed on again
        owed = published.get("reruns", ()) if isinstance(published, dict) else ()
        return Processed(task_id, None, None, tuple(owed),
                         message="finished before taskbot restarted")
    work_branch = f"taskbot/{task_id}"
    wt = worktree(clone, places.state, work_branch, start, job.pair, job.memory,
                  keep=writeback.touched(config, rel_path))
    resumed = tj is not None and tj.run_id is not None  # after a kill: the run began then
    run_id, now = _identity(tj, job.now)
    ctx = Context(config, task_id, run_id, redactor(config),
                  on_spawn=tj.spawned if tj is not None else None, memory=job.memory)
    unlanded = Unlanded(places.state)
    options = RunOptions(now=now, selected=indices, repo_label=_label(places),
                         display_path=rel_path, should_stop=job.should_stop,
                         journal=kept.Remembered(tj, unlanded.of(task_id)),
                         approvals=approvals.of(places.state, task_id),
                         dependencies=_dependencies(clone, start, rel_path, job))
    with progress.watched(config, ctx, tj, since=now if resumed else None):
        result = run_task(wt / rel_path, job.handlers, ctx, options)
    report = result.report
    waiting_store.remember(places.state, task_id, [d.task_id for d in report.waiting_on])
    message = ctx.redactor(task_commit(report, start))
    # the dashboard's state between commits is kept in the process's memory
    committed = writeback.commit(
        config, places, tj, wt, rel_path, report, message, partial(in_commit, memory=job.memory),
        partial(dashboard_committed, memory=job.memory), job.memory)
    if committed is None:
        settle(wt, job.memory)  # it wrote nothing git would record
        problem = publish_report(config, report, ctx.redactor)
        step(tj, "published")
        return Processed(task_id, report, None, message=problem)
    sha, moved = committed
    carry = partial(reapply, edit=result.edit, path=moved or rel_path)
    done = writeback.integrated(config, tj, found.target(places.branch, work_branch),
                                wt, sha, moved or rel_path, carry, message)
    kept.remember(unlanded, task_id, report, done, work_branch, result.before, rel_path)
    if done.note:
        report = replace(report, notes=(*report.notes, done.note, *_pull_request(
            config, done, work_branch)))
    if tj is None or not tj.step("noted"):
        writeback.attach_note(config, wt, done.commit, to_markdown(report, ctx.redactor), found)
        step(tj, "noted")
    settle(wt, job.memory)  # all it wrote is in its commit
    complete = report.result == TaskResult.COMPLETE and done.on_branch
    reruns = waiting_store.waiters_of(places.state, task_id) if complete else ()
    problem = publish_report(config, report, ctx.redactor)
    step(tj, "published", {"reruns": list(reruns)})
    if not done.on_branch:  # the log says where the commit went, not only that main lacks it
        problem = "; ".join(p for p in (done.note, problem) if p)
    return Processed(task_id, report, done.commit if done.on_branch else None, reruns, problem)


def _pull_request(config: Config, done: Integrated, work_branch: str) -> tuple[str, ...]:
    """A forge that refused the branch (protection, reviews): where to open the request."""
    if done.on_branch or not config.repo.remote:
        return ()
    url = remote.compare_url(config.repo.remote, config.repo.branch, work_branch,
                             config.repo.forge)
    return (f"open a pull request for {work_branch}: {url}",) if url else ()


def _label(places: Places) -> str:
    """How reports name the tasks repository."""
    if places.remote:
        return places.remote.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] \
            .removesuffix(".git")
    return places.path.resolve().name.removesuffix(".git")


def _identity(tj: TaskJournal | None, now: datetime) -> tuple[str, datetime]:
    """The run's id and time: new, or what the journal kept for a run resumed after a kill
    (so its report, log lines and commit read as one run)."""
    if tj is not None and tj.run_id and tj.step("now"):
        return tj.run_id, datetime.fromisoformat(str(tj.step("now")))
    run_id = new_run_id(now)
    if tj is not None:
        tj.note({"run_id": run_id, "now": now.isoformat()})  # written with the first step
    return run_id, now


def _dependencies(clone: Path, start: str, rel_path: str, job: Job) -> State:
    """Where the run looks its dependencies up: in `start`'s tree (what the worktree was
    reset to), under the folder above the task's own, as on disk; the worktree holds only
    the task's own file (`writeback.touched`)."""
    folder = PurePosixPath(rel_path).parent
    above = "" if folder == PurePosixPath(".") else str(folder.parent)
    root = "" if above == "." else above
    opened: list[pygit2.Repository] = []  # at the first lookup: most tasks wait on none

    def state(dep: str, waiter: str) -> DependencyState:
        if not opened:
            opened.append(read.open_repo(clone))
        return tree_dependency_state(opened[0], start, root, dep, waiter, job.memory)

    return state


def _task_id(clone: Path, rev: str, rel_path: str, job: Job) -> str:
    repo = read.open_repo(clone)
    # its folder as trust read it (`bot.git.folders`), not parsed once more
    blob = folders.entry(repo.revparse_single(rev).peel(pygit2.Commit).tree, rel_path,
                         job.memory)
    if blob is None:  # nothing there: as libgit2 says it
        blob = repo.revparse_single(f"{rev}:{rel_path}")
    return parse_task(blob.read_raw(), rel_path).id
