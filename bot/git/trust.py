"""Commits of a push → trusted, or which commit is not and why.

Every commit in the pushed range that touches tasks_dir must be by a listed author,
or, when `allowed_signers` is set, carry a valid ssh signature from one of them.
taskbot's own commits (its identity and a `Taskbot-Run:` trailer) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from bot.config import Config
from bot.git.detect import ZERO
from bot.proc import run_command

_TRAILER_RE = re.compile(r"^Taskbot-Run:\s*\S", re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    reason: str = ""  # names the commit and why it is not trusted


def is_bot_commit(commit: pygit2.Commit, config: Config) -> bool:
    last = commit.message.rstrip().rsplit("\n\n", 1)[-1]
    return bool(_TRAILER_RE.search(last)) and commit.author.email == config.identity.email


def _touches(commit: pygit2.Commit, tasks_dir: str) -> bool:
    def sub(tree: pygit2.Tree) -> str | None:
        if tasks_dir in ("", "."):
            return str(tree.id)
        try:
            return str(tree[tasks_dir].id)
        except KeyError:
            return None

    mine = sub(commit.tree)
    parents = commit.parents or []
    return not parents or any(sub(p.tree) != mine for p in parents)


def commits(repo: pygit2.Repository, old: str, new: str) -> Iterator[pygit2.Commit]:
    walker = repo.walk(repo.revparse_single(new).id, pygit2.enums.SortMode.TOPOLOGICAL)
    if old != ZERO:
        walker.hide(repo.revparse_single(old).id)
    yield from walker


def _signed_ok(repo_path: Path, sha: str, signers: str) -> bool:
    record = run_command(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit", sha],
        str(repo_path), timeout=30)
    return record.ok


def _blob(tree: pygit2.Tree, path: str) -> str | None:
    try:
        return str(tree[path].id)
    except KeyError:
        return None


def _verdict(commit: pygit2.Commit, config: Config, repo_path: Path) -> Verdict:
    trust = config.trust
    if trust is None:
        return Verdict(False, f"{config.source}: no [trust] section: nothing runs")
    sha = str(commit.id)
    if trust.allowed_signers:
        if not _signed_ok(repo_path, sha, trust.allowed_signers):
            return Verdict(False, f"commit {sha[:12]} by {commit.author.email} has no valid "
                           f"ssh signature from {trust.allowed_signers}")
    elif not trust.anyone and commit.author.email.lower() not in {a.lower()
                                                                   for a in trust.authors}:
        return Verdict(False, f"commit {sha[:12]} author {commit.author.email} is not in "
                       "[trust] authors")
    return Verdict(True)


def check_file(repo: pygit2.Repository, tip: str, path: str, config: Config) -> Verdict:
    """Every commit that ever changed `path` up to `tip` is trusted (for a task run again
    without a push of its own: its whole content must come from trusted people)."""
    walker = repo.walk(repo.revparse_single(tip).id, pygit2.enums.SortMode.TOPOLOGICAL)
    for commit in walker:
        mine = _blob(commit.tree, path)
        if mine is None or is_bot_commit(commit, config):
            continue
        if commit.parents and all(_blob(p.tree, path) == mine for p in commit.parents):
            continue
        verdict = _verdict(commit, config, Path(repo.path))
        if not verdict.trusted:
            return verdict
    return Verdict(True)


def check(repo: pygit2.Repository, old: str, new: str, config: Config,
          scope: str | None = None) -> Verdict:
    """Commits of old..new touching `scope` (default: tasks_dir) must be trusted."""
    if config.trust is None:
        return Verdict(False, f"{config.source}: no [trust] section: nothing runs")
    scope = config.repo.tasks_dir if scope is None else scope
    repo_path = Path(repo.path)
    for commit in commits(repo, old, new):
        if is_bot_commit(commit, config) or not _touches(commit, scope):
            continue
        verdict = _verdict(commit, config, repo_path)
        if not verdict.trusted:
            return verdict
    return Verdict(True)
