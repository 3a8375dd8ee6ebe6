"""Commits of a push → trusted, or which commit is not and why.

Every commit in the pushed range that touches tasks_dir must be by a listed author,
or, when `allowed_signers` is set, carry a valid ssh signature from one of them.
A file that would run must, in addition, have a whole history of trusted commits,
followed through renames and copies (`file_history`): an untrusted edit made outside
tasks_dir, or to a criterion that was ticked then, cannot run once a trusted person
moves the file in or unticks the box.
taskbot's own commits are skipped: only those taskbot recorded when it made them
(`bot.git.owncommits`, passed in as `own`); a commit that merely looks like taskbot's
(its e-mail, a `Taskbot-Run:` trailer) is judged like anyone's.
The range is walked once (`bot.git.read.walk`) and checked here as often as needed.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from bot.config import Config
from bot.git import folders, read
from bot.git.pairdiff import Pair
from bot.git.signatures import Signatures
from bot.state.memory import Memory


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    reason: str = ""  # names the commit and why it is not trusted


@dataclass(frozen=True)
class Change:
    """A commit that changed a file's content, and the file's name in that commit."""

    sha: str
    author_email: str
    path: str


def is_bot_commit(commit: read.Commit, own: frozenset[str]) -> bool:
    """Whether taskbot recorded `commit` as its own (`owncommits.load`); nothing else counts."""
    return commit.sha in own


def _no_trust(config: Config) -> Verdict:
    return Verdict(False, f"{config.source}: no [trust] section: nothing runs")


def _signatures(config: Config) -> Signatures | None:
    trust = config.trust
    if trust is None or not trust.allowed_signers:
        return None
    return Signatures(config.repo.state_dir, trust.allowed_signers)


def _why(sha: str, email: str, config: Config, git_dir: Path,
         signatures: Signatures | None) -> str | None:
    """Why the commit is not trusted, or None when it is."""
    trust = config.trust
    assert trust is not None
    if signatures is not None:
        if not signatures.verified(git_dir, sha):
            return f"no valid ssh signature from {trust.allowed_signers}"
    elif not trust.anyone and email.lower() not in {a.lower() for a in trust.authors}:
        return f"{email} is not in [trust] authors"
    return None


def _first_untrusted(commits: tuple[read.Commit, ...], config: Config, git_dir: Path,
                     own: frozenset[str]) -> Verdict:
    signatures = _signatures(config)
    for commit in commits:
        if is_bot_commit(commit, own):
            continue
        sha, email = commit.sha[:12], commit.author_email
        why = _why(commit.sha, email, config, git_dir, signatures)
        if why is not None:
            words = f"by {email} has" if config.trust and config.trust.allowed_signers else "author"
            return Verdict(False, f"commit {sha} {words} {why}")
    return Verdict(True)


# --- a file's whole history, renames and copies followed ----------------------------------

_FIND = pygit2.enums.DiffFind
# Renames by similarity (a `git mv` with edits, a file overwritten by a moved one); copies
# only verbatim: task files written from one template are similar, so a similar new file
# would be taken for a copy of any other task. The unmodified files a copy may come from
# are dropped once it is found: only changes are handed over (not every file of a folder).
_RENAMED = _FIND.FIND_RENAMES | _FIND.FIND_REWRITES | _FIND.BREAK_REWRITES
_COPIED = _FIND.FIND_COPIES | _FIND.FIND_COPIES_FROM_UNMODIFIED | _FIND.FIND_EXACT_MATCH_ONLY \
    | _FIND.FIND_REMOVE_UNMODIFIED
_MOVED = (pygit2.enums.DeltaStatus.RENAMED, pygit2.enums.DeltaStatus.COPIED)


def _entry(tree: pygit2.Tree, path: str, memory: Memory | None) -> pygit2.Oid | None:
    """The id `path` has in `tree`. Its folder is read once per version (`bot.git.folders`):
    a folder of 10,000 files is read once, not once per commit, parent and file asking."""
    found = folders.entry(tree, path, memory)
    return found.id if found is not None else None


def _found(diff: pygit2.Diff, path: str, flags: pygit2.enums.DiffFind) -> set[str]:
    diff.find_similar(flags=flags)
    return {d.old_file.path for d in diff.deltas
            if d.new_file.path == path and d.status in _MOVED and d.old_file.path != path}


def _sources(parent: pygit2.Commit, commit: pygit2.Commit, path: str, added: bool,
             pair: Pair | None) -> set[str]:
    """Where `commit` took `path` from in `parent`: a rename, an overwrite by a moved file,
    a verbatim copy. Only a file new to `parent` is looked for among the unchanged files
    (a plain `cp`): that diffs whole trees, once per file's birth, not once per edit.
    Where `pair` compares these two trees and only files were added, nothing was renamed
    (a rename needs a deleted or rewritten source), and the trees are not compared again."""
    if pair is not None and pair.of(parent.tree_id, commit.tree_id) \
            and pair.only(pygit2.enums.DeltaStatus.ADDED):
        found: set[str] = set()
    else:
        found = _found(parent.tree.diff_to_tree(commit.tree), path, _RENAMED)
    if added and not found:
        every = parent.tree.diff_to_tree(commit.tree,
                                         flags=pygit2.enums.DiffOption.INCLUDE_UNMODIFIED)
        found = _found(every, path, _COPIED)
    return found


def file_history(repo: pygit2.Repository, tip: str, path: str, pair: Pair | None = None,
                 memory: Memory | None = None) -> Iterator[Change]:
    """Every commit that changed the content `tip` has at `path`, newest first.

    Each commit carries the names the file had there, handed to its parents (a name the
    parent lacks is traced to its rename or copy source), so branches and merges are
    followed exactly and the walk ends where the file was first created. The walk is a
    work list taken newest commit first: it reads only the commits on the file's way, not
    the whole history (a topological sort would read every commit before the first), and
    a parent that receives a name after it was taken (clocks out of order) is taken again
    for that name, so no commit on the way is ever missed. `pair`: two trees compared
    already (`bot.git.pairdiff`), used where a commit and its parent have them. `memory`:
    the process's, where folders read once are kept (`bot.git.folders`).
    """
    start = repo.revparse_single(tip).peel(pygit2.Commit)
    follow: dict[pygit2.Oid, set[str]] = {start.id: {path}}
    done: dict[pygit2.Oid, set[str]] = {}
    heap: list[tuple[int, str, pygit2.Commit]] = [(-start.commit_time, str(start.id), start)]
    while heap:
        _, _, commit = heapq.heappop(heap)
        names = follow.pop(commit.id, set()) - done.get(commit.id, set())
        if not names:
            continue
        done.setdefault(commit.id, set()).update(names)
        for name in sorted(names):
            yield from _step(commit, name, follow, heap, pair, memory)


def _step(commit: pygit2.Commit, name: str, follow: dict[pygit2.Oid, set[str]],
          heap: list[tuple[int, str, pygit2.Commit]], pair: Pair | None, memory: Memory | None
          ) -> Iterator[Change]:
    """One name of the file at one commit: a change when a parent had other content there;
    the names the file had in each parent go on the work list."""
    mine = _entry(commit.tree, name, memory)
    parents = commit.parents
    if not parents or any(_entry(p.tree, name, memory) != mine for p in parents):
        yield Change(str(commit.id), commit.author.email, name)
    for parent in parents:
        before = _entry(parent.tree, name, memory)
        names = {name} if before is not None else set()
        if before != mine:
            names |= _sources(parent, commit, name, before is None, pair)
        if names:
            follow.setdefault(parent.id, set()).update(names)
            heapq.heappush(heap, (-parent.commit_time, str(parent.id), parent))


def check_file(repo: pygit2.Repository, tip: str, path: str, config: Config,
               own: frozenset[str], pair: Pair | None = None, memory: Memory | None = None
               ) -> Verdict:
    """Every commit that ever changed `path`'s content up to `tip`, under this or any earlier
    name, is trusted: a file about to run must come wholly from trusted people (a push's
    triggered file, a task run again without a push of its own). `pair`: as in
    `file_history`."""
    trust = config.trust
    if trust is None:
        return _no_trust(config)
    if trust.anyone and not trust.allowed_signers:
        return Verdict(True)
    git_dir = Path(repo.path)
    key = (tip, path)  # a commit id names its whole history, in any repository
    if _judged_trusted(memory, key, own, trust):
        return Verdict(True)
    signatures = _signatures(config)
    for change in file_history(repo, tip, path, pair, memory):
        if change.sha in own:
            continue
        why = _why(change.sha, change.author_email, config, git_dir, signatures)
        if why is not None:
            now = "" if change.path == path else f" (now {path})"
            return Verdict(False, f"commit {change.sha[:12]} by {change.author_email} "
                           f"changed {change.path}{now}: {why}")
    if memory is not None and not trust.allowed_signers:
        with memory.verdicts.lock:
            kept = memory.verdicts.items
            kept.pop(key, None)
            kept[key] = (own, trust)
            while len(kept) > _VERDICTS_KEPT:
                del kept[next(iter(kept))]
    return Verdict(True)


_VERDICTS_KEPT = 16  # a push's files, judged again by the dashboard in the same commit


def _judged_trusted(memory: Memory | None, key: tuple[str, str], own: frozenset[str],
                    trust: object) -> bool:
    """Whether this file at this tip was judged trusted under the very same own-commits set
    (the same object: the record as read, unchanged since) and an equal policy. A history
    below a commit id never changes, so that verdict stands; only positive ones are kept,
    and none under `allowed_signers`, whose file may revoke a key at any time. (A commit id
    names its history where no graft or shallow boundary cuts it: taskbot's repositories
    have neither, and libgit2 reads no replace refs.)"""
    if memory is None:
        return False
    with memory.verdicts.lock:
        seen = memory.verdicts.items.get(key)
    return seen is not None and seen[0] is own and seen[1] == trust


def check_commit(commit: read.Commit, config: Config, git_dir: Path) -> Verdict:
    """One commit by the rule every commit of a push meets (an approval: `Taskbot-Approve`):
    a listed author, or with `allowed_signers` a valid ssh signature from one of them."""
    if config.trust is None:
        return _no_trust(config)
    return _first_untrusted((commit,), config, git_dir, frozenset())


def check(pushed: read.Range, config: Config, own: frozenset[str],
          scope: str | None = None) -> Verdict:
    """Commits of the pushed range touching `scope` (default: tasks_dir) must be trusted;
    the range must have been walked with that scope."""
    if config.trust is None:
        return _no_trust(config)
    scope = config.repo.tasks_dir if scope is None else scope
    return _first_untrusted(pushed.touching(scope), config, pushed.git_dir, own)
