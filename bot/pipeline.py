"""A queued item (a push, or a task queued again) → runs, commits, reports.

Shared by the daemon (hook and watch mode). One item at a time per repository;
the caller serialises. Detection and trust read the source repository directly
with pygit2; only when something will run does taskbot touch its own worktree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pygit2

from bot import dashboard, heartbeat, taskfile
from bot import waiting as waiting_store
from bot.config import Config
from bot.context import Context, Handler
from bot.errors import TaskbotError
from bot.forge import remote
from bot.git import owncommits, read
from bot.git import write as gitrepo
from bot.git.detect import Change, changed_files, criteria_to_run
from bot.git.messages import parse_trailers, task_commit
from bot.git.read import ZERO
from bot.git.trust import Verdict, check, check_file, is_bot_commit
from bot.git.writeback import Integrated, Target, integrate
from bot.journal import (
    Journal,
    Recorded,
    TaskJournal,
    Unlanded,
    outcome_from_json,
    outcome_to_json,
)
from bot.lookup import find_in_tree, id_matches
from bot.notify import redactor, reportstore
from bot.notify.publish import publish
from bot.proc import Redactor
from bot.report import Report, TaskInfo, to_markdown
from bot.runmodel import Outcome, Status, new_run_id
from bot.runner import State
from bot.taskfile.shallow import brings_open_boxes, open_boxes
from bot.taskrun import RunOptions, run_task

# Where refusals' reports are kept, apart from every task's (a task would have to be
# called `.refused` to share them).
REFUSED = ".refused"
MAX_REFUSALS_SHOWN = 20  # files named in one refusal report; the rest are counted


@dataclass(frozen=True)
class Push:
    old: str
    new: str
    ref: str


@dataclass(frozen=True)
class Rerun:
    task_id: str


@dataclass(frozen=True)
class Processed:
    task_id: str
    report: Report | None
    commit: str | None
    reruns: tuple[str, ...] = ()
    message: str = ""


OnStatus = Callable[[str], None]  # one line on what the pipeline does now


def _quiet(_: str) -> None:
    pass


def watch_target(config: Config) -> tuple[Path, str]:
    """Watch mode: the clone's git dir and the ref whose changes count."""
    return read.git_dir(config.repo.path), f"refs/heads/{config.repo.branch}"


@dataclass(frozen=True)
class _Job:
    """One queued item's processing: what every task run of it shares."""

    config: Config
    handlers: Mapping[str, Handler]
    now: datetime
    should_stop: Callable[[], bool]
    on_status: OnStatus
    journal: Journal | None


def process(config: Config, handlers: Mapping[str, Handler], item: Push | Rerun, *,
            now: datetime, should_stop: Callable[[], bool] = lambda: False,
            on_status: OnStatus = _quiet, journal: Journal | None = None
            ) -> tuple[Processed, ...]:
    """With a journal, each step is recorded as it ends, and what it recorded already (a
    killed daemon's item resumed) is not done again."""
    job = _Job(config, handlers, now, should_stop, on_status, journal)
    if isinstance(item, Rerun):
        return (_rerun(job, item.task_id),)
    return _push(job, item)


def _push(job: _Job, push: Push) -> tuple[Processed, ...]:
    config = job.config
    if push.ref != f"refs/heads/{config.repo.branch}" or push.new == ZERO:
        return ()
    repo = read.open_repo(source_repo(config))
    # Walked once, for both questions trust asks below.
    pushed = read.walk(repo, push.old, push.new, (config.repo.tasks_dir, _tasks_root(config)))
    own = owncommits.load(_state(config))  # taskbot's own commits: only what it recorded
    old = None if push.old == ZERO else push.old
    if all(is_bot_commit(c, own) for c in pushed.commits):
        # taskbot's own push triggers nothing — unless it is a kept branch a person merged
        # by fast-forward: its ticks landed now, and with them completed dependencies.
        if not _lands_kept_work(config, pushed):
            return ()
        _prune_unlanded(config, repo, old, push.new)
        reruns = _completed_waiters(config, repo, old, push.new)
        return (Processed("-", None, None, reruns, "kept work merged"),) if reruns else ()
    # Trust first: nothing anyone pushed is read deeply (parsed, its dependencies looked
    # up) before its authors are judged. A range whose tasks root is not wholly trusted
    # neither completes dependencies nor ends an unlanded tick.
    root = check(pushed, config, own, scope=_tasks_root(config))
    reruns = _completed_waiters(config, repo, old, push.new) if root.trusted else ()
    if root.trusted:
        _prune_unlanded(config, repo, old, push.new)
    changes = changed_files(repo, old, push.new, config.repo.tasks_dir)
    verdict = check(pushed, config, own) if changes else root
    out: list[Processed] = []
    refusals: list[tuple[str, str]] = []
    for change in changes:
        heartbeat.beat()  # a push of many files is long, and alive
        why, indices = _judged(config, repo, push, verdict, own, change)
        if why:
            refusals.append((change.path, why))
        elif indices:
            job.on_status(f"running {change.path}")
            out.append(_isolated(change.path, partial(_run, job, change.path, indices, push.new)))
    if refusals:
        out.insert(0, _refused_all(job, refusals, f"push {push.new[:12]}"))
    if reruns:
        out.append(Processed("-", None, None, reruns, "dependencies completed"))
    elif not root.trusted and _may_complete(config, repo, old, push.new):
        out.append(Processed("-", None, None, (), f"waiting tasks not queued again: "
                             f"push {push.new[:12]}: {root.reason}"))
    return tuple(out)


def _may_complete(config: Config, repo: pygit2.Repository, old: str | None, new: str) -> bool:
    """A shallow look, for an untrusted range: could it have completed a task that others
    wait for (no open box left, or moved to a completed folder)?"""
    if not waiting_store.load(_state(config)):
        return False
    return any(not c.error and (taskfile.in_completed_folder(c.path) or not open_boxes(c.new))
               for c in changed_files(repo, old, new, _tasks_root(config)))


def _judged(config: Config, repo: pygit2.Repository, push: Push, verdict: Verdict,
            own: frozenset[str], change: Change) -> tuple[str, tuple[int, ...]]:
    """Why the file is refused ('' when it is not), and the criteria to run."""
    if change.error:
        return change.error, ()
    refused = f"push {push.new[:12]} not run: "
    if not verdict.trusted:
        # Untrusted: only a shallow look, to tell whether the refusal is worth a report.
        return (refused + verdict.reason if brings_open_boxes(change.old, change.new)
                else ""), ()
    try:
        indices = criteria_to_run(change.old, change.new, change.path)
    except TaskbotError as exc:
        return str(exc), ()
    if indices:
        # What runs must come wholly from trusted people, not only this push: its file's
        # whole history, followed through renames (moved in from backlog/, unticked).
        mine = check_file(repo, push.new, change.path, config, own)
        if not mine.trusted:
            return refused + mine.reason, ()
    return "", indices


def _tasks_root(config: Config) -> str:
    root = str(Path(config.repo.tasks_dir).parent)
    return "" if root == "." else root


def _rerun(job: _Job, task_id: str) -> Processed:
    config = job.config
    where = _where(config)
    clone = where.clone
    gitrepo.fetch(clone)  # a rerun starts from where the branch is now
    tip = read.resolve(clone, where.branch_rev)
    if tip is None:
        return Processed(task_id, None, None, message=f"branch {config.repo.branch} not found")
    repo = read.open_repo(clone)
    found = find_in_tree(repo, tip, config.repo.tasks_dir, task_id)
    stale = _stale(found)
    if stale:  # gone, moved to completed/ or done: nobody waits for it any more
        waiting_store.forget(_state(config), task_id)
        return Processed(task_id, None, None, message=f"{task_id}: {stale} in "
                         f"{config.repo.tasks_dir} on {config.repo.branch}; not run again")
    assert found is not None
    rel = found[0]
    verdict = check_file(repo, tip, rel, config,
                         owncommits.load(_state(config)))
    if not verdict.trusted:
        return _refused(job, rel, f"{task_id} not run again: {verdict.reason}")
    job.on_status(f"running {task_id} again")
    return _isolated(task_id, lambda: _run(job, rel, None, tip, where))


def _isolated(name: str, work: Callable[[], Processed]) -> Processed:
    """One task's failure (git, an unusable file) is reported; the other tasks still run."""
    try:
        return work()
    except TaskbotError as exc:
        return Processed(Path(name).stem, None, None, message=f"{name}: {exc}")


def _state(config: Config) -> Path:
    return Path(config.repo.state_dir)


@dataclass(frozen=True)
class _Where:
    """Where taskbot works on the tasks repository; looked up once per run."""

    bare: bool  # hook mode: the source is a bare repository, integrated by pushes
    clone: Path  # taskbot's private clone of the source (bare repository or person's clone)
    branch_rev: str  # how the clone names repo.branch
    watched: Path | None = None  # watch mode: the person's clone, advanced from taskbot's

    def target(self, config: Config, work_branch: str) -> Target:
        return Target(self.clone, self.bare, config.repo.branch, work_branch, self.watched)


def source_repo(config: Config) -> Path:
    """The repository whose branch taskbot reads: the bare repository (hook mode), the
    person's clone (watch mode), or taskbot's clone of the forge's (remote mode)."""
    if config.repo.remote:
        return remote.ensure_clone(remote.from_config(config), _state(config))
    return Path(config.repo.path)


def _where(config: Config) -> _Where:
    """Every mode works in a private clone under state_dir: in watch mode too, so that the
    person's clone never shows taskbot's worktrees or work branches; in remote mode the
    clone of the forge's repository, integrated by pushes to it."""
    if config.repo.remote:
        return _Where(True, source_repo(config), f"origin/{config.repo.branch}")
    source = Path(config.repo.path)
    clone = gitrepo.private_clone(source, _state(config))
    rev = f"origin/{config.repo.branch}"
    if read.mode(source) == "bare":
        return _Where(True, clone, rev)
    return _Where(False, clone, rev, source)


def _run(job: _Job, rel_path: str, indices: tuple[int, ...] | None, start: str,
         where: _Where | None = None) -> Processed:
    config = job.config
    where = where or _where(config)
    clone = where.clone
    task_id = _task_id(clone, start, rel_path)
    if not pygit2.reference_is_valid_name(f"refs/heads/taskbot/{task_id}"):
        return _refused(job, rel_path, f"{rel_path}: its id {task_id!r} cannot name taskbot's "
                        f"work branch (taskbot/{task_id}); give the task an id git takes "
                        "as a branch name")
    tj = job.journal.task(rel_path) if job.journal is not None else None
    published = tj.step("published") if tj is not None else None
    if published:  # done before a restart: only what it owed the queue is handed on again
        owed = published.get("reruns", ()) if isinstance(published, dict) else ()
        return Processed(task_id, None, None, tuple(owed),
                         message="finished before taskbot restarted")
    work_branch = f"taskbot/{task_id}"
    wt = gitrepo.worktree(clone, _state(config), work_branch, start)
    run_id, now = _identity(tj, job.now)
    ctx = Context(config, task_id, run_id, redactor(config),
                  on_spawn=tj.spawned if tj is not None else None)
    label = _label(config)
    unlanded = Unlanded(_state(config))
    remembered = _Remembered(tj, unlanded.of(task_id))
    options = RunOptions(now=now, selected=indices, repo_label=label, display_path=rel_path,
                         should_stop=job.should_stop, journal=remembered)
    result = run_task(wt / rel_path, job.handlers, ctx, options)
    report = result.report
    waiting_store.remember(_state(config), task_id, [d.task_id for d in report.waiting_on])
    message = ctx.redactor(task_commit(report, start))
    committed = _commit(config, tj, wt, rel_path, report, message)
    if committed is None:
        problem = _publish(config, report, ctx.redactor)
        _step(tj, "published")
        return Processed(task_id, report, None, message=problem)
    sha, moved = committed
    done = _integrate(config, tj, where.target(config, work_branch),
                      wt, sha, moved or rel_path, result.edit, message)
    _remember_unlanded(unlanded, task_id, report, done, work_branch, result.before, rel_path)
    if done.note:
        report = replace(report, notes=(*report.notes, done.note, *_pull_request(
            config, done, work_branch)))
    if tj is None or not tj.step("noted"):
        _attach_note(config, wt, done.commit, to_markdown(report, ctx.redactor), where)
        _step(tj, "noted")
    complete = report.result == "complete" and done.on_branch
    reruns = waiting_store.waiters_of(_state(config), task_id) if complete else ()
    problem = _publish(config, report, ctx.redactor)
    _step(tj, "published", {"reruns": list(reruns)})
    return Processed(task_id, report, done.commit if done.on_branch else None, reruns, problem)


def _pull_request(config: Config, done: Integrated, work_branch: str) -> tuple[str, ...]:
    """A forge that refused the branch (protection, reviews): where to open the request."""
    if done.on_branch or not config.repo.remote:
        return ()
    url = remote.compare_url(config.repo.remote, config.repo.branch, work_branch,
                             config.repo.forge)
    return (f"open a pull request for {work_branch}: {url}",) if url else ()


def _label(config: Config) -> str:
    """How reports name the tasks repository."""
    if config.repo.remote:
        return config.repo.remote.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] \
            .removesuffix(".git")
    return Path(config.repo.path).resolve().name.removesuffix(".git")


class _Remembered:
    """What the runner must not run again: outcomes of the item in flight (the journal), and
    criteria done earlier whose tick waits on a kept branch (`Unlanded`)."""

    def __init__(self, tj: TaskJournal | None, unlanded: Mapping[str, Any]) -> None:
        self._tj = tj
        self._unlanded = unlanded

    def recorded(self, identity: str, occurrence: int) -> Recorded | None:
        kept = self._tj.recorded(identity, occurrence) if self._tj is not None else None
        earlier = self._unlanded.get(_key(identity, occurrence))
        if kept is not None or not isinstance(earlier, dict):
            return kept
        outcome = outcome_from_json(earlier.get("outcome")) or Outcome(Status.DONE)
        said = (f"done in run {earlier.get('run_id')}; its tick waited on "
                f"{earlier.get('branch')}, not run again")
        return Recorded("done", 0, replace(outcome, summary=said))

    def was_interrupted(self, identity: str, occurrence: int) -> bool:
        return self._tj is not None and self._tj.was_interrupted(identity, occurrence)

    def started(self, identity: str, occurrence: int) -> None:
        if self._tj is not None:
            self._tj.started(identity, occurrence)

    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None:
        if self._tj is not None:
            self._tj.ended(identity, occurrence, state, attempts, outcome)


def _lands_kept_work(config: Config, pushed: read.Range) -> bool:
    """Whether the range brings a commit taskbot kept on a branch for a person."""
    kept = Unlanded(_state(config)).commits()
    return bool(kept) and any(c.sha in kept for c in pushed.commits)


def _prune_unlanded(config: Config, repo: pygit2.Repository, old: str | None, new: str) -> None:
    """Ticks a person brought to the branch (merging a kept branch, ticking by hand) end
    their wait: the criterion may run again once someone unticks it."""
    unlanded = Unlanded(_state(config))
    if not unlanded:
        return
    for change in changed_files(repo, old, new, config.repo.tasks_dir):
        if change.error:
            continue
        try:
            task = taskfile.parse(change.new, change.path)
        except TaskbotError:
            continue
        waiting = unlanded.of(task.id)
        occurrence = taskfile.occurrences(task.criteria)
        ticked = [key for c in task.criteria if c.checked
                  and (key := _key(c.identity, occurrence[c.index])) in waiting]
        if ticked:
            unlanded.drop(task.id, ticked)


def _key(identity: str, occurrence: int) -> str:
    """A criterion in the unlanded record: identical lines counted, like everywhere."""
    return f"{occurrence}:{identity}"


def _remember_unlanded(unlanded: Unlanded, task_id: str, report: Report, done: Integrated,
                       work_branch: str, before: bytes, rel_path: str) -> None:
    """A tick that reached the branch is done with; one kept on `work_branch` is remembered,
    so that the criterion is never run again before a person merges it. Only the criteria
    this run ticked are settled by its landing: others may still wait on an older branch."""
    occurrence = taskfile.occurrences(taskfile.parse(before, rel_path).criteria)
    done_here = {_key(r.action.criterion.identity, occurrence.get(r.action.criterion.index, 0)): r
                 for r in report.results if r.state is State.DONE}
    if done.on_branch:
        unlanded.drop(task_id, done_here)
        return
    unlanded.add(task_id, {key: {"run_id": report.run_id, "branch": work_branch,
                                 "commit": done.commit, "outcome": outcome_to_json(r.outcome)}
                           for key, r in done_here.items()})


def _identity(tj: TaskJournal | None, now: datetime) -> tuple[str, datetime]:
    """The run's id and time: new, or what the journal kept for a run resumed after a kill
    (so its report, log lines and commit read as one run)."""
    if tj is not None and tj.run_id and tj.step("now"):
        return tj.run_id, datetime.fromisoformat(str(tj.step("now")))
    run_id = new_run_id(now)
    if tj is not None:
        tj.note({"run_id": run_id, "now": now.isoformat()})  # written with the first step
    return run_id, now


def _step(tj: TaskJournal | None, name: str, value: object = True) -> None:
    if tj is not None:
        tj.record(name, value)


def _commit(config: Config, tj: TaskJournal | None, wt: Path, rel_path: str, report: Report,
            message: str) -> tuple[str, str | None] | None:
    """The run's commit (made now, or the one the journal recorded) and where the task moved."""
    if tj is not None and tj.step("commit"):
        moved = tj.step("moved")
        # A resumed run's worktree was reset to the pushed tip; re-applying after a refused
        # push reads taskbot's commit from the worktree's HEAD, so HEAD must be that commit.
        gitrepo.git(["reset", "--quiet", "--hard", str(tj.step("commit"))], wt)
        return str(tj.step("commit")), (str(moved) if moved else None)
    moved = _move_if_complete(config, wt, rel_path, report)
    # part of this commit, never one of its own; only the paths the run wrote are compared
    dashboard.in_commit(config, wt, report, [p for p in (rel_path, moved) if p])
    sha = gitrepo.commit(wt, message, config.identity)
    if sha is None:
        return None
    owncommits.record(_state(config), sha)
    _step(tj, "moved", moved)
    _step(tj, "commit", sha)
    return sha, moved


def _integrate(config: Config, tj: TaskJournal | None, target: Target, wt: Path, sha: str,
               rel_path: str, edit: taskfile.Edit, message: str) -> Integrated:
    kept = tj.step("integrated") if tj is not None else None
    if kept:
        return Integrated(str(kept["commit"]), bool(kept["on_branch"]), str(kept["note"]))
    done = integrate(config, target, wt, sha, rel_path, edit, message)
    _step(tj, "integrated", {"commit": done.commit, "on_branch": done.on_branch,
                             "note": done.note})
    return done


def _publish(config: Config, report: Report, redact: Redactor, *, store_as: str = "") -> str:
    """Keep the report and queue its notification for the daemon's outbox; '' when fine."""
    if not (any(r.attempted for r in report.results) or report.notes):
        return ""
    return publish(config, report, redact, send=True, deliver_now=False,
                   store_as=store_as).problem


def _task_id(clone: Path, rev: str, rel_path: str) -> str:
    blob = read.open_repo(clone).revparse_single(f"{rev}:{rel_path}")
    return taskfile.parse(blob.read_raw(), rel_path).id


def _move_if_complete(config: Config, wt: Path, rel_path: str, report: Report) -> str | None:
    if config.repo.on_complete != "move" or report.result != "complete":
        return None
    path = wt / rel_path
    data = taskfile.apply(taskfile.read(path), taskfile.Edit(
        frontmatter=(("status", "completed"),)), rel_path).data
    taskfile.write(path, data)
    dest = Path(rel_path).parent.parent / taskfile.COMPLETED_DIR / Path(rel_path).name
    (wt / dest).parent.mkdir(parents=True, exist_ok=True)
    gitrepo.git(["mv", "--", rel_path, str(dest)], wt)
    return str(dest)


def repair_notes(config: Config, depth: int = 200) -> tuple[str, ...]:
    """Notes lost to a kill: taskbot's recorded commits among the branch's last `depth` whose
    note is missing get it from the stored report, and the notes ref is pushed again."""
    where = _where(config)
    own = owncommits.load(_state(config))
    tip = read.resolve(where.clone, where.branch_rev) if own else None
    if tip is None:
        return ()
    listed = gitrepo.git(["notes", f"--ref={gitrepo.NOTES_REF}", "list"], where.clone,
                         check=False).stdout.split()
    noted = set(listed[1::2])  # "<note blob> <annotated commit>" per line
    repaired: list[str] = []
    for commit in itertools.islice(read.open_repo(where.clone).walk(tip), depth):
        sha = str(commit.id)
        if sha not in own or sha in noted:
            continue
        trailers = parse_trailers(commit.message)
        text = reportstore.markdown(config.repo.state_dir, trailers.get("Task-Id", ""),
                                    trailers.get("Taskbot-Run", ""))
        if text:
            gitrepo.add_note(where.clone, sha, text, config.identity)
            repaired.append(sha)
    _share_notes(where, where.clone)
    return tuple(repaired)


def _attach_note(config: Config, wt: Path, sha: str, text: str, where: _Where) -> None:
    gitrepo.add_note(wt, sha, text, config.identity)
    _share_notes(where, wt)


def _share_notes(where: _Where, source: Path) -> None:
    """Notes go where people read the log: pushed to the bare repository, or fetched into
    the person's clone (a fetch runs none of that clone's receive hooks)."""
    ref = f"+{gitrepo.NOTES_REF}:{gitrepo.NOTES_REF}"
    if where.bare:
        gitrepo.push(source, [ref])
    elif where.watched is not None:
        gitrepo.git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                     str(where.clone.resolve()), ref], where.watched, check=False)


def _refused(job: _Job, rel_path: str, why: str) -> Processed:
    return _refused_all(job, [(rel_path, why)], rel_path)


def _refused_all(job: _Job, refusals: Sequence[tuple[str, str]], what: str) -> Processed:
    """One report for every file of an item that is not run, however many: one
    notification a push. It is stored apart from the tasks' own reports (`REFUSED`), so a
    file named like a task (`evil/TASK-1.md`), or thousands of names, never take a task's
    place in `taskbot report` or `status`."""
    config, now = job.config, job.now
    path = refusals[0][0]
    name = Path(path).stem if len(refusals) == 1 else f"{len(refusals)} files of {what}"
    notes = tuple(why if why.startswith(path) else f"{path}: {why}"
                  for path, why in refusals[:MAX_REFUSALS_SHOWN])
    if len(refusals) > MAX_REFUSALS_SHOWN:
        notes += (f"… and {len(refusals) - MAX_REFUSALS_SHOWN} more files not run",)
    report = Report(TaskInfo(name, name, "-", "-", path), "blocked", 0, 0, (), (), (), (),
                    (), f"{now:%Y%m%dT%H%M%S}-refused", notes=notes)
    tj = job.journal.task(f"refused {what}") if job.journal is not None else None
    if tj is None or not tj.step("published"):  # a resumed item does not report twice
        _publish(config, report, redactor(config), store_as=REFUSED)
        _step(tj, "published")
    return Processed(name, report, None, message="; ".join(notes))


# --- tasks waiting on others (the store: bot/waiting.py) ----------------------------------

def _completed_waiters(config: Config, repo: pygit2.Repository, old: str | None, new: str
                       ) -> tuple[str, ...]:
    """Waiting tasks whose dependency this push completed (ticked, or moved to completed/)."""
    waiting = waiting_store.load(_state(config))
    if not waiting:
        return ()
    done: set[str] = set()
    for change in changed_files(repo, old, new, _tasks_root(config)):
        if change.error or change.path == config.repo.dashboard:  # never a task
            continue
        try:
            task = taskfile.parse(change.new, change.path)
        except TaskbotError:
            continue
        if taskfile.is_complete(task, change.path):
            done.add(change.path)
            done.add(task.id)
    ready = [t for t, deps in waiting.items() if any(_names(d, p) for d in deps for p in done)]
    return _still_waiting(config, repo, new, waiting, ready)


def _stale(found: tuple[str, bytes] | None) -> str:
    """Why a task queued again is not run ('' when it is): gone, unusable or complete."""
    if found is None:
        return "no task with this id"
    rel, data = found
    try:
        task = taskfile.parse(data, rel)
    except TaskbotError as exc:
        return f"unusable ({exc})"
    return "already complete" if taskfile.is_complete(task, rel) else ""


def _still_waiting(config: Config, repo: pygit2.Repository, tip: str,
                   waiting: dict[str, list[str]], ready: list[str]) -> tuple[str, ...]:
    """Of the waiters a push made ready, those whose file is still there and not complete;
    the others wait for nothing and are dropped quietly (only these are looked up: the
    cost follows the push, not the number of waiters)."""
    stale = {t for t in ready if _stale(find_in_tree(repo, tip, config.repo.tasks_dir, t))}
    waiting_store.drop(_state(config), waiting, stale)
    return tuple(t for t in ready if t not in stale)


def _names(task_id: str, id_or_path: str) -> bool:
    return task_id.lower() == id_or_path.lower() or (
        id_or_path.endswith(".md") and id_matches(Path(id_or_path), task_id))
