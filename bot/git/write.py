"""Every git write taskbot makes: its own clones and worktrees, commits, pushes, notes.

All through `bot.proc.run_command` (argv, no shell, GIT_* stripped, timeouts), with
taskbot's identity passed explicitly. Nothing here touches a person's working tree:
work happens in worktrees under `state_dir`, and branches are integrated by
fast-forward pushes or compare-and-swap ref updates, never by force.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Identity
from bot.errors import TaskbotError
from bot.proc import CommandRecord, run_command

GIT_TIMEOUT = 120.0
NOTES_REF = "refs/notes/taskbot"


class GitError(TaskbotError):
    """A git command failed; the message is git's own last line."""


@dataclass(frozen=True)
class PushResult:
    ok: bool
    rejected: bool  # the target moved: not a fast-forward
    detail: str


def identity_env(identity: Identity) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": identity.name, "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name, "GIT_COMMITTER_EMAIL": identity.email,
        # The operator's global config must not change what taskbot writes (hooks, signing).
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
    }


def git(args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None,
        check: bool = True, input: bytes | None = None) -> CommandRecord:
    record = run_command(["git", *args], str(cwd), env=env, timeout=GIT_TIMEOUT, input=input)
    if check and not record.ok:
        raise GitError(f"git {' '.join(args)} in {cwd}: {record.error_line or record.error}")
    return record


def out(args: Sequence[str], cwd: Path) -> str:
    """A git command's single-line answer (rev-parse and friends)."""
    return git(args, cwd).output_tail.strip()


def is_bare(repo: Path) -> bool:
    return out(["rev-parse", "--is-bare-repository"], repo) == "true"


def has_remote(repo: Path, name: str = "origin") -> bool:
    return git(["remote", "get-url", name], repo, check=False).ok


def resolve(repo: Path, rev: str) -> str | None:
    record = git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo, check=False)
    return record.output_tail.strip() if record.ok else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def private_clone(remote: Path, state_dir: Path) -> Path:
    """taskbot's own clone of `remote` (a local bare repo) under state_dir.

    It shares the bare repository's objects (`--shared`), so any pushed commit can be
    checked out at once, without a fetch on the way to the first handler; `fetch` is
    only needed to learn where the remote's branches moved.
    """
    digest = hashlib.sha256(str(remote.resolve()).encode()).hexdigest()[:8]
    path = state_dir / "clones" / f"{_slug(remote.resolve().name)}-{digest}"
    if not (path / ".git").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        git(["clone", "--quiet", "--shared", "--no-checkout", str(remote.resolve()), str(path)],
            state_dir)
        # Notes are taskbot's own ref: fetched once, then only ever pushed from here.
        git(["fetch", "--quiet", "origin", f"+{NOTES_REF}:{NOTES_REF}"], path, check=False)
    return path


def fetch(repo: Path, remote: str = "origin") -> bool:
    """Fetch branches and taskbot notes; False when the repository has no such remote."""
    if not has_remote(repo, remote):
        return False
    git(["fetch", "--quiet", "--prune", remote, f"+refs/heads/*:refs/remotes/{remote}/*"], repo)
    return True


def worktree(repo: Path, state_dir: Path, branch: str, start: str) -> Path:
    """A clean worktree of `repo` under state_dir on `branch`, reset to `start`."""
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:8]
    path = state_dir / "worktrees" / f"{_slug(repo.resolve().name)}-{digest}" / _slug(branch)
    if (path / ".git").exists():
        git(["checkout", "--quiet", "--force", "-B", branch, start], path)
        git(["clean", "--quiet", "-fdx"], path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        git(["worktree", "prune"], repo)  # forget worktrees whose folders were removed
        git(["worktree", "add", "--quiet", "--force", "-B", branch, str(path), start], repo)
    return path


def prepare_worktree(clone: Path, state_dir: Path, branch: str, base: str) -> Path:
    """A worktree on `branch` based on origin/<base> (local <base> without an origin)."""
    start = f"origin/{base}" if fetch(clone) else base
    if resolve(clone, start) is None:
        raise GitError(f"{clone}: branch {start!r} does not exist")
    return worktree(clone, state_dir, branch, start)


def commit(path: Path, message: str, identity: Identity, paths: Sequence[str] = ()) -> str | None:
    """Commit what changed (all, or `paths`); None when nothing did, leaving HEAD where it was."""
    git(["add", "--all", "--", *(paths or ["."])], path)
    if git(["diff", "--cached", "--quiet"], path, check=False).ok:
        return None
    git(["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-F", "-"],
        path, env=identity_env(identity), input=message.encode())
    return out(["rev-parse", "HEAD"], path)


def push(path: Path, refspecs: Sequence[str], remote: str = "origin") -> PushResult:
    """A plain push: never forced, so a moved target is rejected and reported as such."""
    record = git(["push", "--quiet", "--porcelain", remote, *refspecs], path, check=False)
    if record.ok:
        return PushResult(True, False, "pushed")
    text = record.output_tail
    rejected = any(word in text for word in ("non-fast-forward", "fetch first", "[rejected]",
                                               "stale info"))
    return PushResult(False, rejected, record.error_line or record.error)


def push_ff(path: Path, branch: str, target: str) -> str:
    """Fast-forward origin/<target> to HEAD and push `branch` too; says what happened.

    Without an origin: in a worktree of a bare repository (nobody's checkout to keep in
    step) <target> itself is fast-forwarded; in a clone the branch stays for a person.
    """
    if not has_remote(path):
        if git(["config", "--bool", "core.bare"], path, check=False).output_tail.strip() != "true":
            return f"no origin: branch {branch} kept for a person to merge"
        if fast_forward(path, target, out(["rev-parse", "HEAD"], path)):
            return f"{target} fast-forwarded"
        return f"{target} moved meanwhile: branch {branch} kept for a person to merge"
    result = push(path, [f"HEAD:refs/heads/{target}", f"+HEAD:refs/heads/{branch}"])
    if result.ok:
        return f"pushed to origin {target}"
    pushed = push(path, [f"+HEAD:refs/heads/{branch}"])
    kept = f"branch {branch} pushed" if pushed.ok else f"branch {branch} kept locally"
    raise GitError(f"origin {target} was not fast-forwarded ({result.detail}); {kept}")


def update_ref(repo: Path, branch: str, new: str, old: str) -> bool:
    """Compare-and-swap `branch` from `old` to `new` (a fast-forward the caller checked)."""
    return git(["update-ref", f"refs/heads/{branch}", new, old], repo, check=False).ok


def fast_forward(repo: Path, branch: str, new: str) -> bool:
    """Move `branch` to `new` when that is a fast-forward, by compare-and-swap; else False."""
    tip = resolve(repo, f"refs/heads/{branch}")
    if tip is None or not git(["merge-base", "--is-ancestor", tip, new], repo, check=False).ok:
        return False
    return update_ref(repo, branch, new, tip)


def add_note(repo: Path, sha: str, text: str, identity: Identity) -> None:
    git(["notes", f"--ref={NOTES_REF}", "add", "--force", "--file", "-", sha], repo,
        env=identity_env(identity), input=text.encode())
