"""A run's edit → a commit on `taskbot/<TASK-ID>` → `repo.branch`, without losing anyone's work.

When the branch moved while the run went on, taskbot re-applies its own edit (`updated:`,
log lines, and ticks: each the criterion that ran, by identity and occurrence in the
version the run read, followed by its line into the new version — never onto another
line that reads the same) to the new version of the file and commits that on top. Only
when a criterion it would tick was itself edited, re-checked or removed (or cannot be
told apart) does it leave the branch alone and keep its work on `taskbot/<TASK-ID>`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from bot.config import Config
from bot.errors import TaskbotError
from bot.git import owncommits, read
from bot.git import write as gitrepo
from bot.git.target import Integrated, Target
from bot.taskfile.model import Applied
from bot.taskfile.save import write as write_task
from bot.taskfile.source import read as read_task

MAX_REBASES = 5
_FINAL_RE = re.compile(r"hook declined|protected|denied|not allowed|forbidden|permission", re.I)
RETRY_PAUSE = 0.2  # seconds before pushing again after a refusal; doubled each time


# taskbot's commit of the file carried onto the branch's newer version of it, by meaning:
# (the version the run read, the branch's, taskbot's) → the merged file (the caller's
# `bot.taskfile.merge.reapply` with the run's edit)
Carry = Callable[[bytes | None, bytes, bytes], Applied]


def integrate(config: Config, target: Target, worktree: Path, sha: str, rel_path: str,
              carry: Carry, message: str) -> Integrated:
    """Never raises once the commit exists: whatever the remote says, the commit ends up on
    the branch or on the kept work branch, and the result says which and why."""
    if config.repo.integrate == "branch":
        return _keep(target, worktree, sha, f"integrate = branch: work is on {target.work_branch}")
    refusal = ""
    for attempt in range(MAX_REBASES):
        step = _attempt(config, target, worktree, sha, rel_path, carry, message, attempt)
        if isinstance(step, Integrated):
            if step.on_branch:
                _tidy(target, worktree, step.commit)
            return step
        sha, refusal = step
    why = f"{target.branch} refused the push ({refusal})" if refusal else \
        f"{target.branch} kept moving; gave up re-applying"
    return _keep(target, worktree, sha, why)


def _attempt(config: Config, target: Target, worktree: Path, sha: str, rel_path: str,
             carry: Carry, message: str, attempt: int) -> Integrated | tuple[str, str]:
    """One push of `sha`: done, kept, or the commit to push next and what the remote said."""
    try:
        refused = _advance(target, worktree, sha)
    except TaskbotError as exc:
        return _keep(target, worktree, sha, f"{target.branch} not fast-forwarded: {exc}")
    if refused is None:
        return Integrated(sha, True, "")
    tip, refusal = refused
    if _contains(target, sha, tip):
        return _unmoved(target, worktree, sha, refusal, attempt)
    try:
        sha_or_none = _reapply(config, worktree, target, tip, rel_path, carry, message)
    except TaskbotError as exc:
        why = str(exc) if isinstance(exc, _Conflict) else \
            f"re-applying on the moved {target.branch} failed: {exc}"
        return _keep(target, worktree, sha, why)
    if sha_or_none is None:
        return Integrated(tip, True, "nothing left to change after the branch moved")
    return sha_or_none, refusal


def _tidy(target: Target, worktree: Path, sha: str) -> None:
    """The commit is on the branch: its work branch is clutter, in taskbot's clone and, when
    an earlier run kept it at the bare repository and it is merged now, there too."""
    if target.bare_origin:
        gitrepo.drop_merged_remote(worktree, target.work_branch, sha)
    gitrepo.drop_branch(worktree, target.work_branch)


def _unmoved(target: Target, worktree: Path, sha: str, refusal: str, attempt: int
             ) -> Integrated | tuple[str, str]:
    """Refused although the branch did not move: in a clone, the person's uncommitted changes;
    at a remote, a lock, a hook, or `failed to update ref` while another push was in flight,
    which may well pass on the next try."""
    if not target.bare_origin:
        return _keep(target, worktree, sha, f"{target.branch} in the clone could not be "
                     "fast-forwarded (uncommitted changes to the task file?)")
    if _FINAL_RE.search(refusal):  # a hook or the forge said no: asking again changes nothing
        return _keep(target, worktree, sha, f"{target.branch} refused the push ({refusal})")
    time.sleep(RETRY_PAUSE * (2 ** attempt))
    return sha, refusal


class _Conflict(TaskbotError):
    pass


def _contains(target: Target, sha: str, tip: str) -> bool:
    """`tip` is `sha` or an ancestor of it: the branch did not move away from taskbot's work."""
    if tip == sha:
        return True
    try:
        return bool(read.open_repo(target.clone).descendant_of(sha, tip))
    except Exception:  # an object libgit2 cannot find: not contained
        return False


def _advance(target: Target, worktree: Path, sha: str) -> tuple[str, str] | None:
    """Fast-forward the branch to `sha`; None on success, else the branch's tip now and what
    the remote said. Raises when the remote could not be reached at all."""
    if target.bare_origin:
        result = gitrepo.push(worktree, [f"{sha}:refs/heads/{target.branch}"])
        if result.ok:
            return None
        if not result.rejected:
            raise TaskbotError(f"push to {target.branch} failed: {result.detail}")
        gitrepo.fetch(target.clone)
        tip = read.resolve(target.clone, f"origin/{target.branch}")
        detail = result.detail
    else:
        if _ff_watched(target, sha):
            return None
        tip = read.resolve(target.person, target.branch)
        detail = "the clone's branch could not be fast-forwarded"
    if tip is None:
        raise TaskbotError(f"branch {target.branch} disappeared")
    return tip, detail


def _ff_watched(target: Target, sha: str) -> bool:
    """Watch mode: fast-forward the clone's branch; its checked-out files follow like a checkout
    would, keeping the person's uncommitted changes (git refuses if they touch the same file).
    The commit is fetched from taskbot's clone first, by id: no ref of taskbot's appears."""
    clone = target.person
    if target.watched is not None and not gitrepo.bring(clone, target.clone, sha):
        return False
    head = gitrepo.git(["symbolic-ref", "--quiet", "HEAD"], clone, check=False)
    if head.ok and head.stdout.strip() == f"refs/heads/{target.branch}":
        return gitrepo.git(["merge", "--ff-only", "--quiet", sha], clone, check=False).ok
    return gitrepo.fast_forward(clone, target.branch, sha)


def _reapply(config: Config, worktree: Path, target: Target, base: str, rel_path: str,
             carry: Carry, message: str) -> str | None:
    """Merge taskbot's commit (the worktree's HEAD) into the branch's new version of the file
    by meaning (`bot.taskfile.merge.reapply`, the code of `taskbot merge-file`). HEAD^ holds
    the version the run read, where the edit's ticks count their occurrences."""
    repo = read.open_repo(worktree)
    mine, before = (_blob(repo, f"HEAD{up}:{rel_path}") for up in ("", "^"))
    gitrepo.git(["checkout", "--quiet", "--force", "-B", target.work_branch, base], worktree)
    path = worktree / rel_path
    if not path.exists() or mine is None:
        raise _Conflict(f"{rel_path} was moved or removed on {target.branch} meanwhile")
    applied = carry(before, read_task(path), mine)
    if applied.missing:
        lines = "; ".join(applied.missing)
        raise _Conflict(f"{target.branch} kept the person's version of: {lines}")
    write_task(path, applied.data)
    sha = gitrepo.commit(worktree, message, config.identity)
    if sha is not None:
        owncommits.record(config.repo.state_dir, sha)
    return sha


def _blob(repo: pygit2.Repository, spec: str) -> bytes | None:
    try:
        obj = repo.revparse_single(spec)
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return obj.read_raw() if isinstance(obj, pygit2.Blob) else None


def _keep(target: Target, worktree: Path, sha: str, why: str) -> Integrated:
    if target.bare_origin:
        pushed = gitrepo.push(worktree, [f"+{sha}:refs/heads/{target.work_branch}"])
        where = "pushed" if pushed.ok else f"kept locally ({pushed.detail})"
    else:
        # Kept for a person: this one branch belongs in the person's clone.
        if target.watched is not None:
            gitrepo.bring(target.person, target.clone, sha)
        gitrepo.git(["branch", "--force", target.work_branch, sha], target.person, check=False)
        where = "kept"
    return Integrated(sha, False, f"{why}; taskbot's commit is on {target.work_branch} ({where})")
