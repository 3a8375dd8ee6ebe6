"""Every git read: opening a repository, its mode, resolving revisions, walking a range.

Reads go through pygit2 (libgit2): no process per question. The few answers libgit2
does not give the way git does (the hooks dir, ssh signatures) come from the git
program, through `git`, the one way taskbot runs it — `bot.git.write` runs its writes
through it too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from bot.errors import ConfigError, TaskbotError
from bot.proc import CommandRecord, run_command

if TYPE_CHECKING:
    import pygit2

__all__ = ["GIT_TIMEOUT", "ZERO", "Commit", "GitError", "Mode", "Range", "exists", "git",
           "git_dir", "hooks_dir", "mode", "open_repo", "resolve", "verify_commit", "walk"]

GIT_TIMEOUT = 120.0
ZERO = "0" * 40  # git's name for "no commit": the old tip of a new branch

Mode = Literal["bare", "clone"]
Repo: TypeAlias = "Path | str | pygit2.Repository"


class GitError(TaskbotError):
    """A git command failed, or a path is not a repository; the message is one line."""


# Hooks in a repository taskbot works in (its private clone under state_dir, a watched
# clone) run as the service user: none of them may run on taskbot's own git commands.
HOOKS_OFF = ("-c", "core.hooksPath=/dev/null")


def git(args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None,
        check: bool = True, input: bytes | None = None, hooks: bool = False,
        pushing: bool = False, timeout: float = GIT_TIMEOUT) -> CommandRecord:
    """The git program, through `bot.proc` (argv, no shell, timeouts); GitError unless ok.

    Hooks are off (`hooks=True` only to ask git where a repository's hooks are). `pushing`:
    a push to a repository on this host runs that repository's hooks in git's process
    group, and taskbot's own post-receive hook writes the spool entry from a background
    child that must outlive git; what any other git command leaves behind is killed.
    """
    argv = ["git", *(() if hooks else HOOKS_OFF), *args]
    # Nobody is there to type a password: a missing credential fails at once, never waits.
    # Replace refs (`refs/replace/*`) are anyone's to push: with them, `git verify-commit`
    # would check another commit's signature. taskbot's git sees objects as they are.
    env = {"GIT_TERMINAL_PROMPT": "0", "SSH_ASKPASS_REQUIRE": "never",
           "GIT_NO_REPLACE_OBJECTS": "1", **(env or {})}
    record = run_command(argv, str(cwd), env=env, timeout=timeout, input=input,
                         kill_leftovers=not pushing)
    if check and not record.ok:
        raise GitError(f"git {' '.join(_shown(args))} in {cwd}: {problem(record)}")
    return record


def _shown(args: Sequence[str]) -> list[str]:
    """The command as an error names it: without `-c key=value` options (long, and said
    elsewhere: the ssh command, the credential helper)."""
    shown: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-c":
            skip = True
        else:
            shown.append(arg)
    return shown


_TELLING = ("ssh:", "fatal: unable", "fatal: could not", "remote:", "error:", "fatal:")


def problem(record: CommandRecord) -> str:
    """The line of git's output that says what went wrong: `ssh: connect to host … refused`
    rather than the last line of git's advice ("and the repository exists.")."""
    lines = [ln.strip() for ln in record.stderr_tail.splitlines() if ln.strip()]
    for prefix in _TELLING:
        for line in lines:
            if line.lower().startswith(prefix) and "make sure you have the correct" not in line:
                return line
    return record.error_line or record.error


def open_repo(path: Path | str) -> pygit2.Repository:
    """The repository at `path` itself (its work tree, git dir or worktree), never a parent."""
    import pygit2  # noqa: PLC0415 -- loaded on first use: `taskbot --help`/`plan` need no libgit2

    try:
        return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        # libgit2 says more than "not a repository" when it is one it may not use (owned by
        # another user, an unreadable global config): keep what it said.
        said = str(exc).strip()
        known = not said or "repository not found" in said.lower() \
            or "could not find repository" in said.lower()
        raise GitError(f"{path}: not a git repository" if known or not Path(path).exists()
                       else f"{path}: {said.removeprefix(f'{path}: ')}") from exc


def _repo(repo: Repo) -> pygit2.Repository:
    import pygit2  # noqa: PLC0415 -- as in open_repo

    return repo if isinstance(repo, pygit2.Repository) else open_repo(repo)


def mode(path: Path | str) -> Mode:
    """`bare` (pushes arrive through the hook) or `clone` (a person's clone, watched).

    A worktree has the mode of the repository it belongs to: git keeps `core.bare` in
    the shared config.
    """
    import pygit2  # noqa: PLC0415 -- as in open_repo

    repo = open_repo(path)
    if repo.is_bare:
        return "bare"
    try:
        bare = repo.config.get_bool("core.bare")
    except (KeyError, pygit2.GitError):
        bare = False
    return "bare" if bare else "clone"


def git_dir(path: Path | str) -> Path:
    """The absolute git dir of the repository at `path` (`.git` of a clone)."""
    return Path(open_repo(path).path).absolute()


def resolve(repo: Repo, rev: str) -> str | None:
    """The commit `rev` names (a branch, `origin/x`, a sha, `HEAD`), or None."""
    import pygit2  # noqa: PLC0415 -- as in open_repo

    try:
        return str(_repo(repo).revparse_single(rev).peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def exists(repo: Repo, spec: str) -> bool:
    """Whether `spec` (`rev`, or `rev:path`) names an object."""
    import pygit2  # noqa: PLC0415 -- as in open_repo

    try:
        _repo(repo).revparse_single(spec)
    except (KeyError, ValueError, pygit2.GitError):
        return False
    return True


def hooks_dir(repo: Path) -> Path:
    """The repository's hooks dir, as git finds it (`core.hooksPath` included)."""
    record = git(["rev-parse", "--git-path", "hooks"], repo, check=False, hooks=True)
    if not record.ok:
        raise ConfigError(f"{repo}: not a git repository: {record.error_line or record.error}")
    path = Path(record.stdout.strip())
    return path if path.is_absolute() else (repo / path).resolve()


def verify_commit(repo: Path, sha: str, allowed_signers: str) -> bool:
    """Whether `sha` carries a valid ssh signature by someone in `allowed_signers`."""
    return git(["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "verify-commit", sha],
               repo, check=False).ok


# --- a range of commits, walked once ------------------------------------------------------

@dataclass(frozen=True)
class Commit:
    sha: str
    author_email: str
    message: str
    parents: tuple[str, ...]
    changes: frozenset[str]  # the walk's scopes this commit changes (a root commit: all)
    has: frozenset[str]  # the walk's scopes present in this commit's tree


@dataclass(frozen=True)
class Range:
    """The commits of old..new, newest first (topological), each with what it touches."""

    git_dir: Path
    old: str | None
    new: str
    scopes: tuple[str, ...]
    commits: tuple[Commit, ...]

    def touching(self, scope: str) -> tuple[Commit, ...]:
        if scope not in self.scopes:
            raise ValueError(f"range walked without scope {scope!r}")
        return tuple(c for c in self.commits if scope in c.changes)


def _entry(tree: pygit2.Tree, scope: str) -> str | None:
    if scope in ("", "."):
        return str(tree.id)
    try:
        return str(tree[sys.intern(scope)].id)  # interned: see bot.git.folders
    except KeyError:
        return None


def _commit(commit: pygit2.Commit, scopes: Iterable[str]) -> Commit:
    parents = commit.parents or []
    changes: set[str] = set()
    has: set[str] = set()
    for scope in scopes:
        mine = _entry(commit.tree, scope)
        if mine is not None:
            has.add(scope)
        if not parents or any(_entry(p.tree, scope) != mine for p in parents):
            changes.add(scope)
    return Commit(str(commit.id), commit.author.email, commit.message,
                  tuple(str(p) for p in commit.parent_ids), frozenset(changes), frozenset(has))


def walk(repo: Repo, old: str | None, new: str, scopes: Sequence[str] = ()) -> Range:
    """The commits reachable from `new` and not from `old` (None or ZERO: all of them)."""
    import pygit2  # noqa: PLC0415 -- as in open_repo

    r = _repo(repo)
    walker = r.walk(r.revparse_single(new).id, pygit2.enums.SortMode.TOPOLOGICAL)
    if old is not None and old != ZERO:
        walker.hide(r.revparse_single(old).id)
    found = tuple(_commit(c, scopes) for c in walker)
    return Range(Path(r.path), None if old == ZERO else old, new, tuple(scopes), found)
