"""Commits of a push → trusted, or which commit is not and why.

Every commit in the pushed range that touches tasks_dir must be by a listed author,
or, when `allowed_signers` is set, carry a valid ssh signature from one of them.
taskbot's own commits are skipped: only those taskbot recorded when it made them
(`bot.git.owncommits`, passed in as `own`); a commit that merely looks like taskbot's
(its e-mail, a `Taskbot-Run:` trailer) is judged like anyone's.
The range is walked once (`bot.git.read.walk`) and checked here as often as needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from bot.config import Config
from bot.git import read


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    reason: str = ""  # names the commit and why it is not trusted


def is_bot_commit(commit: read.Commit, own: frozenset[str]) -> bool:
    """Whether taskbot recorded `commit` as its own (`owncommits.load`); nothing else counts."""
    return commit.sha in own


def _no_trust(config: Config) -> Verdict:
    return Verdict(False, f"{config.source}: no [trust] section: nothing runs")


def _verdict(commit: read.Commit, config: Config, git_dir: Path) -> Verdict:
    trust = config.trust
    if trust is None:
        return _no_trust(config)
    sha, email = commit.sha, commit.author_email
    if trust.allowed_signers:
        if not read.verify_commit(git_dir, sha, trust.allowed_signers):
            return Verdict(False, f"commit {sha[:12]} by {email} has no valid "
                           f"ssh signature from {trust.allowed_signers}")
    elif not trust.anyone and email.lower() not in {a.lower() for a in trust.authors}:
        return Verdict(False, f"commit {sha[:12]} author {email} is not in [trust] authors")
    return Verdict(True)


def _first_untrusted(commits: tuple[read.Commit, ...], config: Config, git_dir: Path,
                     own: frozenset[str]) -> Verdict:
    for commit in commits:
        if is_bot_commit(commit, own):
            continue
        verdict = _verdict(commit, config, git_dir)
        if not verdict.trusted:
            return verdict
    return Verdict(True)


def check_file(repo: pygit2.Repository, tip: str, path: str, config: Config,
               own: frozenset[str]) -> Verdict:
    """Every commit that ever changed `path` up to `tip` is trusted (for a task run again
    without a push of its own: its whole content must come from trusted people)."""
    history = read.walk(repo, None, tip, (path,))
    # A commit that removes the file leaves nothing of its own in it.
    changed = tuple(c for c in history.touching(path) if path in c.has)
    return _first_untrusted(changed, config, history.git_dir, own)


def check(pushed: read.Range, config: Config, own: frozenset[str],
          scope: str | None = None) -> Verdict:
    """Commits of the pushed range touching `scope` (default: tasks_dir) must be trusted;
    the range must have been walked with that scope."""
    if config.trust is None:
        return _no_trust(config)
    scope = config.repo.tasks_dir if scope is None else scope
    return _first_untrusted(pushed.touching(scope), config, pushed.git_dir, own)
