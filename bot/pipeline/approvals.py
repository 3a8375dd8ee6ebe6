"""Approvals a push brings (`Taskbot-Approve: <TASK-ID> <digest>` trailers): judged by
trust, recorded, and the approved tasks queued again.

Each commit of the pushed range that carries the trailer is judged by the rule every
pushed commit meets (`bot.git.trust.check_commit`: a listed author, or a valid ssh
signature with `allowed_signers`). Every approval is recorded (`bot.state.approvals`),
trusted or not, so the task's next report can say which count; only the tasks named by a
trusted approval are queued again. An untrusted one starts nothing: it is named in a
refusal report (who, which commit, why). taskbot's own commits never approve.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pygit2

from bot.config import Config
from bot.git import read
from bot.git.messages import approvals as trailers
from bot.git.trust import check_commit, is_bot_commit
from bot.state import approvals as store

__all__ = ["MAX_PER_PUSH", "Taken", "taken"]

MAX_PER_PUSH = 100  # approvals read from one push: a flood of trailers is not a flood of work


class Taken(NamedTuple):
    approved: tuple[str, ...]  # the tasks a trusted approval names: to queue again
    untrusted: tuple[tuple[str, str], ...]  # (commit, why it counts for nothing), for a report


def taken(config: Config, state: Path, repo: pygit2.Repository, pushed: read.Range,
          own: frozenset[str]) -> Taken:
    """The push's approvals, recorded; the tasks to queue again and the untrusted ones."""
    seen = _seen(config, repo, pushed, own)
    if not seen:
        return Taken((), ())
    store.add(state, seen)
    untrusted = tuple((f"commit {s.commit[:12]}", f"commit {s.commit[:12]} by {s.author}: its "
                       f"approval of {s.task_id} plan {s.digest} counts for nothing: {s.why}")
                      for s in seen if not s.trusted)
    return Taken(tuple(dict.fromkeys(s.task_id for s in seen if s.trusted)), untrusted)


def _seen(config: Config, repo: pygit2.Repository, pushed: read.Range, own: frozenset[str]
          ) -> list[store.Seen]:
    found: list[store.Seen] = []
    for commit in pushed.commits:
        if is_bot_commit(commit, own):
            continue  # taskbot never approves; its messages only quote what people wrote
        named = trailers(commit.message)
        if not named:
            continue
        verdict = check_commit(commit, config, pushed.git_dir)
        when = repo.get(commit.sha)
        stamp = when.commit_time if isinstance(when, pygit2.Commit) else 0
        found.extend(store.Seen(task_id, digest, commit.sha, commit.author_email, stamp,
                                verdict.trusted, verdict.reason)
                     for task_id, digest in named)
        if len(found) >= MAX_PER_PUSH:
            break
    return found[:MAX_PER_PUSH]
