"""Every git write taskbot makes: its own clones and worktrees, commits, pushes, notes.

All through `bot.git.read.git` (argv, no shell, GIT_* stripped, timeouts), with
taskbot's identity passed explicitly; the questions asked on the way are `bot.git.read`'s.
Nothing here touches a person's working tree: work happens in worktrees under
`state_dir`, and branches are integrated by fast-forward pushes or compare-and-swap ref
updates, never by force.

Past `LOOSE_OBJECTS` loose objects, taskbot's private clone drops the copies of what it
pushed to the bare repository it borrows from, and packs the rest. The worktrees runs
happen in are `bot.git.worktree`'s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bot.config import Identity
from bot.git import heldrepo, read
from bot.git.commitpaths import DECLINED, commit_paths
from bot.git.read import GitError, git
from bot.proc import run_command
from bot.state.memory import Memory
from bot.state.statedir import CLONES, own, slug
from bot.state.statedir import digest as _digest  # the name tests find a worktree folder by

__all__ = ["NOTES_REF", "GitError", "PushResult", "add_note", "bring", "clone", "commit",
           "drop_branch", "drop_merged_remote", "fast_forward", "fetch", "git", "has_remote",
           "identity_env", "pack", "private_clone", "push", "push_ff", "update_ref"]

NOTES_REF = "refs/notes/taskbot"
_SCP_RE = re.compile(r"[^/]+:")  # host:path, as git reads an ssh address without a scheme


@dataclass(frozen=True)
class PushResult:
    ok: bool
    rejected: bool  # the remote refused a ref (moved, locked, a hook said no); False: no answer
    detail: str


def identity_env(identity: Identity) -> dict[str, str]:
    """For taskbot's own commits and notes (pushes keep the operator's transport settings)."""
    return {
        "GIT_AUTHOR_NAME": identity.name, "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name, "GIT_COMMITTER_EMAIL": identity.email,
        # Neither the system's nor the operator's global config may change what taskbot
        # writes (hooks, signing, templates): only the repository's own config counts.
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
    }


def has_remote(repo: Path, name: str = "origin") -> bool:
    return git(["remote", "get-url", name], repo, check=False).ok


def _head(path: Path) -> str:
    sha = read.resolve(path, "HEAD")
    if sha is None:
        raise GitError(f"{path}: HEAD names no commit")
    return sha


def private_clone(remote: Path, state_dir: Path) -> Path:
    """taskbot's own clone of `remote` (a local bare repo) under state_dir.

    It shares the bare repository's objects (`--shared`), so any pushed commit can be
    checked out at once, without a fetch on the way to the first handler; `fetch` is
    only needed to learn where the remote's branches moved.
    """
    path = state_dir / CLONES / f"{slug(remote.resolve().name)}-{_digest(remote)}"
    own(path.parent, path, path / ".git", path / ".git" / "config")
    if not (path / ".git").exists():
        clone(str(remote.resolve()), path, state_dir, shared=True)
    elif _loose_objects(path / ".git") > LOOSE_OBJECTS:
        pack(path)
    return path


LOOSE_OBJECTS = 512  # in taskbot's clone; past this (estimated as git does), they are packed
_LOOSE_RE = re.compile(r"[0-9a-f]{38,62}")


def _loose_objects(git_dir: Path) -> int:
    """Loose objects, estimated like `git gc --auto` does: those in one of the 256 folders."""
    try:
        return sum(1 for _ in (git_dir / "objects" / "17").iterdir()) * 256
    except OSError:
        return 0


def pack(repo: Path) -> None:
    """Tidy taskbot's clone: each commit, tree and note it makes is a file until packed (and
    a tree is rewritten whole at every commit). Those the bare repository it borrows from
    has (what taskbot pushed there) are dropped; git packs the others (`gc --auto`, waited
    for here, never left running behind taskbot's back). Best effort."""
    git_dir = repo / ".git"
    _drop_borrowed(git_dir / "objects")
    if _loose_objects(git_dir) > LOOSE_OBJECTS:
        git(["-c", "gc.autoDetach=false", "-c", f"gc.auto={LOOSE_OBJECTS}", "gc", "--auto",
             "--quiet"], repo, check=False)


def _drop_borrowed(objects: Path) -> None:
    """Remove loose objects an alternate (the `--shared` clone's source) holds too: git
    reads them from there. Packing would not drop them (`repack -l` leaves borrowed
    objects out), and they are reachable, so no prune would either."""
    import pygit2  # noqa: PLC0415 -- loaded by read.open_repo already

    try:
        sources = [pygit2.Odb(line) for line in (objects / "info" / "alternates")
                   .read_text().splitlines() if line.strip() and not line.startswith("#")]
    except (OSError, pygit2.GitError):
        return
    for folder in objects.iterdir() if sources else ():
        if len(folder.name) != 2 or not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            sha = folder.name + entry.name
            if _LOOSE_RE.fullmatch(entry.name) and any(o.exists(sha) for o in sources):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def clone(source: str, path: Path, cwd: Path, *, shared: bool = False,
          options: Sequence[str] = ()) -> None:
    """taskbot's clone of `source` at `path` with the notes already there, or nothing at `path`.

    Notes are fetched once, here, and from then on only pushed (with `+`, being taskbot's
    own): a clone left without them by a failed fetch or a kill would force an empty notes
    ref over every report note. So the clone is made beside `path` and moved into place
    only once the notes are in; `options` (`-c` transport settings) apply to both steps."""
    partial = path.with_name(f"{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)  # a kill's leftover
    try:
        git([*options, "clone", "--quiet", "--no-checkout", *(["--shared"] if shared else []),
             source, str(partial)], cwd)
        git([*options, "fetch", "--quiet", "origin", "+refs/notes/*:refs/notes/*"], partial)
        partial.rename(path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def fetch(repo: Path, remote: str = "origin") -> bool:
    """Fetch branches and taskbot notes; False when the repository has no such remote."""
    if not _has_remote_config(repo, remote):
        return False
    git([*_packing(repo, remote), "fetch", "--quiet", "--prune", remote,
         f"+refs/heads/*:refs/remotes/{remote}/*"], repo)
    return True


def _has_remote_config(repo: Path, remote: str) -> bool:
    """`has_remote` through libgit2: no git process on a webhook's way to the handler."""
    try:
        return remote in read.open_repo(repo).remotes.names()
    except read.GitError:
        return has_remote(repo, remote)


def commit(path: Path, message: str, identity: Identity, paths: Sequence[str] = (),
           memory: Memory | None = None) -> str | None:
    """Commit what changed (all, or `paths`); None when nothing did, leaving HEAD where it was.
    A few named paths are committed in process where that writes what git would. With
    `identity.signing_key` every commit is signed, as `git commit -S` with `gpg.format=ssh`
    signs it. `memory`: the process's, where the worktree's repository is kept open."""
    if paths:
        # a worktree taskbot reuses has its repository kept open: its index read already
        repo = heldrepo.get(memory, path)
        try:
            repo = repo if repo is not None else read.open_repo(path)
        except GitError:
            repo = None
        sign = partial(_ssh_sign, identity.signing_key, path) if identity.signing_key else None
        made = commit_paths(repo, path, message, identity.name, identity.email, paths, sign,
                            memory) if repo is not None else DECLINED
        if made != DECLINED:
            return made
        heldrepo.drop(memory, path)  # its index may hold what was staged here: read it afresh
    env = identity_env(identity)  # staging decides the content too (excludes, attributes)
    git(["add", "--all", "--", *(paths or ["."])], path, env=env)
    if git(["diff", "--cached", "--quiet"], path, env=env, check=False).ok:
        return None
    git([*_signing(identity), "commit", "--quiet", "--no-verify",
         *(["-S"] if identity.signing_key else []), "-F", "-"],
        path, env=env, input=message.encode())
    return _head(path)


def _ssh_sign(key: str, cwd: Path, content: bytes) -> str | None:
    """What git's ssh signing does for a commit made in process: the armored signature of
    `content`, or None (git then tries, and says why it cannot)."""
    record = run_command(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", key], str(cwd),
                         timeout=read.GIT_TIMEOUT, input=content)
    return record.stdout if record.ok and "BEGIN SSH SIGNATURE" in record.stdout else None


def commit_tree(path: Path, parent: str, message: str, identity: Identity) -> str:
    """A commit of `parent`'s tree with `message`, made as `identity` (signed as every commit of
    taskbot's is when it has a signing key) without touching a worktree or a ref: its sha."""
    made = git([*_signing(identity), "commit-tree", f"{parent}^{{tree}}", "-p", parent,
                *(["-S"] if identity.signing_key else []), "-F", "-"],
               path, env=identity_env(identity), input=message.encode())
    return made.stdout.strip()


def _signing(identity: Identity) -> list[str]:
    """`-c` options for a commit: signed with the ssh key when one is configured, else not
    signed at all. As options, not config: `identity_env` hides the global config, and the
    repository's own (a GitOps clone's `gpg.ssh.program`, say) must not choose the signer."""
    if not identity.signing_key:
        return ["-c", "commit.gpgsign=false"]
    return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={identity.signing_key}",
            "-c", "gpg.ssh.program=ssh-keygen"]


def push(path: Path, refspecs: Sequence[str], remote: str = "origin") -> PushResult:
    """A plain push: never forced, so a moved target is rejected and reported as such."""
    packing = _packing(path, remote)
    # to this host, a self-contained pack: a thin one makes git walk the parent's trees for
    # delta bases that a pack without deltas never uses (2,000 tasks: ~100 KB a tree)
    record = git([*packing, "push", *(["--no-thin"] if packing else []), "--quiet",
                  "--porcelain", remote, *refspecs], path, check=False, pushing=True)
    if record.ok:
        return PushResult(True, False, "pushed")
    return PushResult(False, _refused(record.stdout), _refusal(record.stdout) or
                      record.error_line or record.error)


def _packing(path: Path, remote: str) -> list[str]:
    """To a repository on this host, a pack without deltas and stored, not deflated:
    searching for deltas and compressing cost more than the bytes they save on no wire, and
    both grow with the trees and the dashboard sent. [] for a remote host."""
    try:
        url = read.open_repo(path).remotes[remote].url or ""
    except Exception:  # no such remote or no libgit2 answer: git's defaults
        return []
    local = url.startswith("file://") or ("://" not in url and not _SCP_RE.match(url))
    return ["-c", "pack.window=0", "-c", "pack.compression=0"] if local else []


def _refused(porcelain: str) -> bool:
    """The remote answered and refused a ref (`!` in --porcelain output): not fast-forward,
    `failed to update ref`, a lock held, a hook's refusal — as opposed to no answer at all."""
    return any(line.startswith("!") for line in porcelain.splitlines())


def _refusal(porcelain: str) -> str:
    for line in porcelain.splitlines():
        if line.startswith("!"):
            return " ".join(line.split("\t")[1:]).strip()
    return ""


def push_ff(path: Path, branch: str, target: str) -> str:
    """Fast-forward origin/<target> to HEAD and push `branch` too; says what happened.

    Without an origin: in a worktree of a bare repository (nobody's checkout to keep in
    step) <target> itself is fast-forwarded; in a clone the branch stays for a person.
    """
    if not has_remote(path):
        if read.mode(path) != "bare":
            return f"no origin: branch {branch} kept for a person to merge"
        if fast_forward(path, target, _head(path)):
            drop_branch(path, branch)
            return f"{target} fast-forwarded"
        return f"{target} moved meanwhile: branch {branch} kept for a person to merge"
    result = push(path, [f"HEAD:refs/heads/{target}"])
    if result.ok:
        drop_merged_remote(path, branch, _head(path))
        drop_branch(path, branch)
        return f"pushed to origin {target}"
    pushed = push(path, [f"+HEAD:refs/heads/{branch}"])
    kept = f"branch {branch} pushed" if pushed.ok else f"branch {branch} kept locally"
    raise GitError(f"origin {target} was not fast-forwarded ({result.detail}); {kept}")


def drop_branch(worktree: Path, branch: str) -> None:
    """Once its commit is integrated, a work branch is clutter: the worktree lets go of it
    (detached at the same commit, ready for the next run) and the branch is deleted."""
    try:  # libgit2: no files change, so no checkout (and no two git processes) is needed
        repo = read.open_repo(worktree)
        if not repo.head_is_detached:
            repo.set_head(repo.head.target)
        held = repo.branches.local.get(branch)
        if held is not None and not held.is_checked_out():
            held.delete()
    except Exception:  # git says why, or leaves it as it is: a branch kept is no harm
        git(["checkout", "--quiet", "--detach"], worktree, check=False)
        git(["branch", "--quiet", "-D", branch], worktree, check=False)


def drop_merged_remote(path: Path, branch: str, into: str, remote: str = "origin") -> None:
    """Delete `branch` on the remote when an earlier run kept it there and its commit is now
    part of `into`: nothing a person could still want is lost. A branch that moved since
    (the lease) or holds other work stays."""
    listed = git(["ls-remote", "--heads", remote, f"refs/heads/{branch}"], path, check=False)
    old = listed.stdout.split()[0] if listed.ok and listed.stdout.strip() else ""
    if not old or not git(["merge-base", "--is-ancestor", old, into], path, check=False).ok:
        return
    git(["push", "--quiet", f"--force-with-lease=refs/heads/{branch}:{old}", remote,
         f":refs/heads/{branch}"], path, check=False, pushing=True)


def bring(into: Path, source: Path, sha: str) -> bool:
    """Copy `sha` and its history from `source` into `into`, creating no ref there (not even
    FETCH_HEAD): a person's clone receives taskbot's commit and nothing else."""
    return git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(source.resolve()),
                sha], into, check=False).ok


def update_ref(repo: Path, branch: str, new: str, old: str) -> bool:
    """Compare-and-swap `branch` from `old` to `new` (a fast-forward the caller checked)."""
    return git(["update-ref", f"refs/heads/{branch}", new, old], repo, check=False).ok


def fast_forward(repo: Path, branch: str, new: str) -> bool:
    """Move `branch` to `new` when that is a fast-forward, by compare-and-swap; else False."""
    tip = read.resolve(repo, f"refs/heads/{branch}")
    if tip is None or not git(["merge-base", "--is-ancestor", tip, new], repo, check=False).ok:
        return False
    return update_ref(repo, branch, new, tip)


def add_note(repo: Path, sha: str, text: str, identity: Identity) -> None:
    """Notes commits are never signed: `git notes` has no way to sign (docs/release.md)."""
    git(["notes", f"--ref={NOTES_REF}", "add", "--force", "--file", "-", sha], repo,
        env=identity_env(identity), input=text.encode())
