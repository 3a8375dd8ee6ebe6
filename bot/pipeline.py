"""A queued item (a push, or a task queued again) → runs, commits, reports.

Shared by the daemon (hook and watch mode). One item at a time per repository;
the caller serialises. Detection and trust read the source repository directly
with pygit2; only when something will run does taskbot touch its own worktree.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

import pygit2

from bot import taskfile
from bot.api import Context, Handler
from bot.atomic import write_atomic
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git import write as gitrepo
from bot.git.detect import changed_files, detect
from bot.git.messages import task_commit
from bot.git.read import ZERO
from bot.git.trust import check, check_file, is_bot_commit
from bot.git.writeback import Target, integrate
from bot.lookup import find_task, id_matches
from bot.notify.publish import publish, redactor
from bot.proc import Redactor
from bot.report import Report, TaskInfo, to_markdown
from bot.taskrun import RunOptions, run_task


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


def process(config: Config, handlers: Mapping[str, Handler], item: Push | Rerun, *,
            now: datetime, should_stop: Callable[[], bool] = lambda: False,
            on_status: OnStatus = _quiet) -> tuple[Processed, ...]:
    if isinstance(item, Rerun):
        return (_rerun(config, handlers, item.task_id, now, should_stop, on_status),)
    return _push(config, handlers, item, now, should_stop, on_status)


def _push(config: Config, handlers: Mapping[str, Handler], push: Push, now: datetime,
          should_stop: Callable[[], bool], on_status: OnStatus) -> tuple[Processed, ...]:
    if push.ref != f"refs/heads/{config.repo.branch}" or push.new == ZERO:
        return ()
    repo = read.open_repo(config.repo.path)
    # Walked once, for both questions trust asks below.
    pushed = read.walk(repo, push.old, push.new, (config.repo.tasks_dir, _tasks_root(config)))
    own = owncommits.load(_state(config))  # taskbot's own commits: only what it recorded
    if all(is_bot_commit(c, own) for c in pushed.commits):
        return ()  # taskbot's own push triggers nothing
    old = None if push.old == ZERO else push.old
    reruns = _completed_waiters(config, repo, old, push.new)
    triggers = detect(repo, old, push.new, config.repo.tasks_dir)
    out: list[Processed] = []
    if triggers:
        verdict = check(pushed, config, own)
        for trigger in triggers:
            if trigger.error or not verdict.trusted:
                why = trigger.error or f"push {push.new[:12]} not run: {verdict.reason}"
                out.append(_refused(config, trigger.path, why, now))
                continue
            on_status(f"running {trigger.path}")
            out.append(_isolated(trigger.path, partial(
                _run, config, handlers, trigger.path, trigger.indices, push.new, now,
                should_stop)))
    if reruns:
        # Completing a dependency makes taskbot run the waiting task: whoever did it, anywhere
        # under the tasks root, must be trusted like a person adding a criterion.
        verdict = check(pushed, config, own, scope=_tasks_root(config))
        if verdict.trusted:
            out.append(Processed("-", None, None, reruns, "dependencies completed"))
        else:
            out.append(Processed("-", None, None, (), f"waiting tasks not queued again: "
                                 f"push {push.new[:12]}: {verdict.reason}"))
    return tuple(out)


def _tasks_root(config: Config) -> str:
    root = str(Path(config.repo.tasks_dir).parent)
    return "" if root == "." else root


def _rerun(config: Config, handlers: Mapping[str, Handler], task_id: str, now: datetime,
           should_stop: Callable[[], bool], on_status: OnStatus) -> Processed:
    where = _where(config)
    clone = where.clone
    gitrepo.fetch(clone)  # a rerun starts from where the branch is now
    tip = read.resolve(clone, where.branch_rev)
    if tip is None:
        return Processed(task_id, None, None, message=f"branch {config.repo.branch} not found")
    wt = gitrepo.worktree(clone, _state(config), "taskbot/lookup", tip)
    try:
        path = find_task(task_id, wt / config.repo.tasks_dir)
    except TaskbotError as exc:
        return Processed(task_id, None, None, message=str(exc))
    rel = str(path.relative_to(wt))
    verdict = check_file(read.open_repo(clone), tip, rel, config,
                         owncommits.load(_state(config)))
    if not verdict.trusted:
        return _refused(config, rel, f"{task_id} not run again: {verdict.reason}", now)
    on_status(f"running {task_id} again")
    return _isolated(task_id, lambda: _run(config, handlers, rel, None, tip, now, should_stop,
                                           where))


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

    bare: bool  # hook mode: taskbot's private clone of the bare repository
    clone: Path  # that private clone, or the person's clone in watch mode
    branch_rev: str  # how the clone names repo.branch: origin/<branch> or <branch>


def _where(config: Config) -> _Where:
    source = Path(config.repo.path)
    if read.mode(source) == "bare":
        return _Where(True, gitrepo.private_clone(source, _state(config)),
                      f"origin/{config.repo.branch}")
    return _Where(False, source, config.repo.branch)


def _run(config: Config, handlers: Mapping[str, Handler], rel_path: str,
         indices: tuple[int, ...] | None, start: str, now: datetime,
         should_stop: Callable[[], bool], where: _Where | None = None) -> Processed:
    where = where or _where(config)
    clone = where.clone
    task_id = _task_id(clone, start, rel_path)
    work_branch = f"taskbot/{task_id}"
    wt = gitrepo.worktree(clone, _state(config), work_branch, start)
    run_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    ctx = Context(config, task_id, run_id, redactor(config))
    label = Path(config.repo.path).resolve().name.removesuffix(".git")
    options = RunOptions(now=now, selected=indices, repo_label=label, display_path=rel_path,
                         should_stop=should_stop)
    result = run_task(wt / rel_path, handlers, ctx, options)
    _remember_waiting(config, task_id, result.report)
    report = result.report
    moved = _move_if_complete(config, wt, rel_path, report)
    message = ctx.redactor(task_commit(report, start))
    sha = gitrepo.commit(wt, message, config.identity)
    if sha is None:
        return Processed(task_id, report, None, message=_publish(config, report, ctx.redactor))
    owncommits.record(_state(config), sha)
    target = Target(clone, where.bare, config.repo.branch, work_branch)
    done = integrate(config, target, wt, sha, moved or rel_path, result.edit, message)
    if done.note:
        report = replace(report, notes=(*report.notes, done.note))
    _attach_note(config, wt, done.commit, to_markdown(report, ctx.redactor), push=where.bare)
    reruns = _waiters_of(config, task_id) if report.result == "complete" and done.on_branch else ()
    problem = _publish(config, report, ctx.redactor)
    return Processed(task_id, report, done.commit if done.on_branch else None, reruns, problem)


def _publish(config: Config, report: Report, redact: Redactor) -> str:
    """Keep the report and queue its notification for the daemon's outbox; '' when fine."""
    if not (any(r.attempted for r in report.results) or report.notes):
        return ""
    return publish(config, report, redact, send=True, deliver_now=False).problem


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


def _attach_note(config: Config, wt: Path, sha: str, text: str, *, push: bool) -> None:
    gitrepo.add_note(wt, sha, text, config.identity)
    if push:
        gitrepo.push(wt, [f"+{gitrepo.NOTES_REF}:{gitrepo.NOTES_REF}"])


def _refused(config: Config, rel_path: str, why: str, now: datetime) -> Processed:
    name = Path(rel_path).stem
    report = Report(TaskInfo(name, name, "-", "-", rel_path), "blocked", 0, 0, (), (), (), (),
                    (), f"{now:%Y%m%dT%H%M%S}-refused", notes=(why,))
    _publish(config, report, redactor(config))
    return Processed(name, report, None, message=why)


# --- tasks waiting on others: remembered in state_dir so a restart keeps them -------------

def _waiting_file(config: Config) -> Path:
    return _state(config) / "waiting.json"


def _load_waiting(config: Config) -> dict[str, list[str]]:
    try:
        data = json.loads(_waiting_file(config).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): [str(d) for d in v] for k, v in data.items()} if isinstance(data, dict) else {}


def _save_waiting(config: Config, waiting: Mapping[str, list[str]]) -> None:
    path = _waiting_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(dict(waiting), indent=1, sort_keys=True).encode())


def _remember_waiting(config: Config, task_id: str, report: Report) -> None:
    waiting = _load_waiting(config)
    deps = [d.task_id for d in report.waiting_on]
    if deps:
        waiting[task_id] = deps
    elif waiting.pop(task_id, None) is None:
        return
    _save_waiting(config, waiting)


def _waiters_of(config: Config, task_id: str) -> tuple[str, ...]:
    return tuple(t for t, deps in _load_waiting(config).items()
                 if task_id.lower() in (d.lower() for d in deps))


def _completed_waiters(config: Config, repo: pygit2.Repository, old: str | None, new: str
                       ) -> tuple[str, ...]:
    """Waiting tasks whose dependency this push completed (ticked, or moved to completed/)."""
    waiting = _load_waiting(config)
    if not waiting:
        return ()
    done: set[str] = set()
    for change in changed_files(repo, old, new, _tasks_root(config)):
        try:
            task = taskfile.parse(change.new, change.path)
        except TaskbotError:
            continue
        if taskfile.is_complete(task, change.path):
            done.add(change.path)
            done.add(task.id)
    return tuple(t for t, deps in waiting.items()
                 if any(_names(d, p) for d in deps for p in done))


def _names(task_id: str, id_or_path: str) -> bool:
    return task_id.lower() == id_or_path.lower() or (
        id_or_path.endswith(".md") and id_matches(Path(id_or_path), task_id))
