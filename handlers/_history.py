"""The GitOps branch as the release gate's journal: what this run already did there.

A run resumed after a kill carries the same run id, so its own commits on the branch say
where the gate was: a bump of this run (`Task-Id`, `Taskbot-Run`) that landed is never
made twice, and a rollback of this run (`Taskbot-Revert-Of`) is never made twice — the
resumed run waits for what is on the branch instead. Only taskbot's own commits count
(its identity as author and committer).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bot import api

__all__ = ["DEPTH", "REVERT_TRAILER", "Past", "file_at", "past"]

DEPTH = 200  # commits of the branch looked at: a gate lasts minutes, not hundreds of commits
REVERT_TRAILER = "Taskbot-Revert-Of"


class Past(NamedTuple):
    bump: str = ""  # this run's bump commit on the branch
    revert: str = ""  # this run's rollback commit on the branch
    reason: str = ""  # why it rolled back, as the rollback commit says


def past(work: Path, branch: str, ctx: api.Context) -> Past:
    """This run's bump and rollback on `origin/<branch>` (just fetched) of the worktree."""
    import pygit2  # noqa: PLC0415 -- api.open_repo loaded it

    repo = api.open_repo(work)
    ref = repo.references.get(f"refs/remotes/origin/{branch}") \
        or repo.references.get(f"refs/heads/{branch}")
    if ref is None:
        return Past()
    found = Past()
    who = ctx.config.identity.email
    for n, commit in enumerate(repo.walk(ref.peel(pygit2.Commit).id)):
        if n >= DEPTH or (found.bump and found.revert):
            break
        if commit.author.email != who or commit.committer.email != who:
            continue
        trailers = api.commit_trailers(commit.message)
        if trailers.get("Task-Id") != ctx.task_id or trailers.get("Taskbot-Run") != ctx.run_id:
            continue
        if REVERT_TRAILER in trailers and not found.revert:
            found = found._replace(revert=str(commit.id), reason=_reason(commit.message))
        elif REVERT_TRAILER not in trailers and not found.bump:
            found = found._replace(bump=str(commit.id))
    return found


def _reason(message: str) -> str:
    for line in message.splitlines():
        if line.startswith("release failed: "):
            return line.removeprefix("release failed: ")
    return ""


def file_at(work: Path, rev: str, path: str) -> str | None:
    """The file's text at `rev` (a commit id, `<sha>^`), None when it is not there."""
    import pygit2  # noqa: PLC0415 -- api.open_repo loaded it

    try:
        blob = api.open_repo(work).revparse_single(f"{rev}:{path}")
    except (KeyError, ValueError, pygit2.GitError):
        return None
    if not isinstance(blob, pygit2.Blob):
        return None
    try:
        return blob.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
