"""A person's approval commit, made in their own clone as themselves: their git identity,
their signing configuration (`commit.gpgsign`, `user.signingkey`), never taskbot's.

The commit is empty (`--allow-empty`): it changes no file, it only carries the
`Taskbot-Approve:` trailers (`bot.git.messages.approval`) that the push stage reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.git.read import GitError, git

__all__ = ["commit", "push", "toplevel"]

# Who the person is and which git configuration they use: `bot.proc` drops GIT_* variables
# (right for taskbot's own git inside a hook), but here they are the person's own choice.
_PERSON = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
           "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "GIT_CONFIG_GLOBAL",
           "GIT_CONFIG_NOSYSTEM")


def _person() -> dict[str, str]:
    return {k: os.environ[k] for k in _PERSON if k in os.environ}


def toplevel(cwd: Path) -> Path:
    """The clone the person works in: the top of the work tree around `cwd`."""
    record = git(["rev-parse", "--show-toplevel"], cwd, check=False)
    if not record.ok or not record.stdout.strip():
        raise GitError(f"{cwd} is not in a clone of the tasks repository: run "
                       "`taskbot approve` in your clone")
    return Path(record.stdout.strip())


def commit(clone: Path, message: str) -> str:
    """An empty commit on the clone's HEAD with `message`; its sha."""
    git(["commit", "--allow-empty", "-q", "-F", "-"], clone, input=message.encode(),
        env=_person())
    return git(["rev-parse", "HEAD"], clone).stdout.strip()


def push(clone: Path, branch: str, remote: str = "origin") -> None:
    """HEAD to the tasks branch of `remote`, fast-forward only (never forced)."""
    git(["push", "-q", remote, f"HEAD:refs/heads/{branch}"], clone, pushing=True,
        env=_person())
