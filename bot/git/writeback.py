"""A run's edit → a commit on `taskbot/<TASK-ID>` → `repo.branch`, without losing anyone's work.

When the branch moved while the run went on, taskbot re-applies its own edit (ticks by
criterion identity, `updated:`, log lines) to the new version of the file and commits
that on top. Only when a criterion it would tick was itself edited, re-checked or
removed does it leave the branch alone and keep its work on `taskbot/<TASK-ID>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import taskfile
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git import write as gitrepo

MAX_REBASES = 5


@dataclass(frozen=True)
class Integrated:
    commit: str  # the commit that ended up on the branch, or the kept one
    on_branch: bool
    note: str  # what happened, for the report when it is not the plain case


@dataclass(frozen=True)
class Target:
    """Where the work goes: a bare repository reached through `origin`, or a watched clone."""

    clone: Path  # taskbot's private clone (hook mode) or the person's clone (watch mode)
    bare_origin: bool
    branch: str  # repo.branch
    work_branch: str  # taskbot/<TASK-ID>


def integrate(config: Config, target: Target, worktree: Path, sha: str, rel_path: str,
              edit: taskfile.Edit, message: str) -> Integrated:
    if config.repo.integrate == "branch":
        return _keep(target, worktree, sha, f"integrate = branch: work is on {target.work_branch}")
    for _ in range(MAX_REBASES):
        moved = _advance(target, worktree, sha)
        if moved is None:
            return Integrated(sha, True, "")
        base = moved
        try:
            sha_or_none = _reapply(config, worktree, target, base, rel_path, edit, message)
        except _Conflict as exc:
            return _keep(target, worktree, sha, str(exc))
        if sha_or_none is None:
            return Integrated(base, True, "nothing left to change after the branch moved")
        sha = sha_or_none
    return _keep(target, worktree, sha, f"{target.branch} kept moving; gave up re-applying")


class _Conflict(TaskbotError):
    pass


def _advance(target: Target, worktree: Path, sha: str) -> str | None:
    """Fast-forward the branch to `sha`; None on success, else the branch's new tip."""
    if target.bare_origin:
        result = gitrepo.push(worktree, [f"{sha}:refs/heads/{target.branch}"])
        if result.ok:
            return None
        if not result.rejected:
            raise TaskbotError(f"push to {target.branch} failed: {result.detail}")
        gitrepo.fetch(target.clone)
        tip = read.resolve(target.clone, f"origin/{target.branch}")
    else:
        if _ff_watched(target, sha):
            return None
        tip = read.resolve(target.clone, target.branch)
    if tip is None:
        raise TaskbotError(f"branch {target.branch} disappeared")
    return tip


def _ff_watched(target: Target, sha: str) -> bool:
    """Watch mode: fast-forward the clone's branch; its checked-out files follow like a checkout
    would, keeping the person's uncommitted changes (git refuses if they touch the same file)."""
    clone = target.clone
    head = gitrepo.git(["symbolic-ref", "--quiet", "HEAD"], clone, check=False)
    if head.ok and head.stdout.strip() == f"refs/heads/{target.branch}":
        return gitrepo.git(["merge", "--ff-only", "--quiet", sha], clone, check=False).ok
    return gitrepo.fast_forward(clone, target.branch, sha)


def _reapply(config: Config, worktree: Path, target: Target, base: str, rel_path: str,
             edit: taskfile.Edit, message: str) -> str | None:
    gitrepo.git(["checkout", "--quiet", "--force", "-B", target.work_branch, base], worktree)
    path = worktree / rel_path
    if not path.exists():
        raise _Conflict(f"{rel_path} was moved or removed on {target.branch} meanwhile")
    applied = taskfile.apply(taskfile.read(path), edit, rel_path)
    if applied.missing:
        lines = "; ".join(applied.missing)
        raise _Conflict(f"{target.branch} kept the person's version of: {lines}")
    taskfile.write(path, applied.data)
    sha = gitrepo.commit(worktree, message, config.identity)
    if sha is not None:
        owncommits.record(config.repo.state_dir, sha)
    return sha


def _keep(target: Target, worktree: Path, sha: str, why: str) -> Integrated:
    if target.bare_origin:
        pushed = gitrepo.push(worktree, [f"+{sha}:refs/heads/{target.work_branch}"])
        where = "pushed" if pushed.ok else f"kept locally ({pushed.detail})"
    else:
        gitrepo.git(["branch", "--force", target.work_branch, sha], target.clone, check=False)
        where = "kept"
    return Integrated(sha, False, f"{why}; taskbot's commit is on {target.work_branch} ({where})")
