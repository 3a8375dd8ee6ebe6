"""Old and new tips of a push → the task files that changed and the criteria to run.

The cost follows the number of changed files: only the `tasks_dir` subtrees of the
two tips are diffed, and libgit2 skips every subtree whose id did not change.

Only regular files are task files: a symlink's blob is its target string, and a
submodule entry is a commit. Such an entry is a trigger with an error, never parsed.
So is a file whose name is not UTF-8 (pygit2 hands its bytes over as surrogates) or holds
a control character: its `path` is the escaped name (`tasks/active/bad-\\xff.md`), the
only form of it that is ever shown, logged or stored.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from dataclasses import dataclass, replace

import pygit2

from bot.errors import TaskbotError
from bot.git.pairdiff import Delta, Pair
from bot.git.read import ZERO
from bot.taskfile.limits import MAX_BYTES
from bot.taskfile.parse import parse as parse_task
from bot.text.textcap import display_name, name_problem


@dataclass(frozen=True)
class Change:
    """A changed task file; its versions are read when asked for, one file at a time: a
    push is a few bytes that may name one large blob at thousands of paths, and every
    version read up front held each copy at once (2,000 paths of a 1 MiB blob: 2 GB)."""

    path: str  # repository-relative path in the new tip
    old_id: pygit2.Oid | None  # None: new in tasks_dir (added, or moved in from elsewhere)
    new_id: pygit2.Oid | None  # None with `error`
    repo: pygit2.Repository | None = None
    error: str = ""  # not a regular file (a symlink, a submodule), a bad name: `new` is empty

    @property
    def old(self) -> bytes | None:
        return None if self.old_id is None else self._read(self.old_id)

    @property
    def new(self) -> bytes:
        return b"" if self.new_id is None else self._read(self.new_id)

    def _read(self, oid: pygit2.Oid) -> bytes:
        assert self.repo is not None, "a change with a version has its repository"
        return self.repo[oid].read_raw()


REGULAR = frozenset({pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE})


def _kind_error(path: str, mode: int) -> str:
    """"" for a regular file; else why taskbot will not read the entry as a task."""
    if mode in REGULAR:
        return ""
    if mode == pygit2.enums.FileMode.LINK:
        return f"{path}: is a symlink; taskbot never follows or runs symlinks"
    return f"{path}: is not a regular file (git mode {mode:o}); taskbot runs only regular files"


def _name_error(path: str) -> str:
    why = name_problem(path)
    return f"{display_name(path)}: {why}" if why else ""


@dataclass(frozen=True)
class Trigger:
    path: str
    indices: tuple[int, ...]  # criteria of the new version to run
    error: str = ""  # the new version is unusable: reported, never run or written


def _subtree(repo: pygit2.Repository, rev: str | None, tasks_dir: str) -> pygit2.Tree | None:
    if rev is None or rev == ZERO:
        return None
    tree = repo.revparse_single(rev).peel(pygit2.Commit).tree
    try:
        obj = tree[sys.intern(tasks_dir)] if tasks_dir not in ("", ".") else tree
    except KeyError:
        return None
    return obj if isinstance(obj, pygit2.Tree) else None


def changed_files(repo: pygit2.Repository, old: str | None, new: str, tasks_dir: str,
                  pair: Pair | None = None) -> tuple[Change, ...]:
    """Added, modified and renamed `.md` files under tasks_dir; deletions are ignored.
    `pair`: the two tips' trees compared already (`bot.git.pairdiff`), used where rename
    detection could find nothing in it."""
    before = _subtree(repo, old, tasks_dir)
    after = _subtree(repo, new, tasks_dir)
    if after is None:
        return ()
    prefix = "" if tasks_dir in ("", ".") else tasks_dir.rstrip("/") + "/"
    deltas = _unpaired(repo, old, new, prefix, pair) if before is not None else None
    if deltas is None:
        diff = before.diff_to_tree(after) if before is not None \
            else after.diff_to_tree(swap=True)
        diff.find_similar()
        deltas = tuple(_delta(d) for d in diff.deltas)
    changes: list[Change] = []
    for delta in deltas:
        if delta.new is None or not delta.path.endswith(".md"):
            continue  # deleted
        path = prefix + delta.path
        error = _name_error(path) or _kind_error(path, delta.new[1]) \
            or _size_error(repo, path, delta.new[0])
        if error:
            changes.append(Change(display_name(path), None, None, error=error))
            continue
        old_id = None  # a symlink before counts as absent, and a version too large to read
        if delta.old is not None and delta.old[1] in REGULAR \
                and blob_size(repo, delta.old[0]) <= MAX_BYTES:
            old_id = delta.old[0]
        changes.append(Change(path, old_id, delta.new[0], repo))
    return tuple(changes)


def blob_size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    """A blob's size, from its header: the blob is not inflated."""
    return int(repo.odb.read_header(oid)[1])


def _size_error(repo: pygit2.Repository, path: str, oid: pygit2.Oid) -> str:
    """"" for a blob taskbot reads; else why not, said as the parser says it."""
    size = blob_size(repo, oid)
    return f"{path}: larger than 1 MiB ({size} bytes)" if size > MAX_BYTES else ""


def _unpaired(repo: pygit2.Repository, old: str | None, new: str, prefix: str,
              pair: Pair | None) -> tuple[Delta, ...] | None:
    """The pair's changes under `prefix` (named from there), where they are the two tips'
    and renames and copies need no looking for: nothing deleted, and files only added or
    only edited (a rename needs a deleted source, a copy an edited one and a new file).
    None: the folder is compared, and renames looked for, here."""
    if pair is None or old is None:
        return None
    tips = (repo.revparse_single(rev).peel(pygit2.Commit).tree_id for rev in (old, new))
    if not pair.of(*tips):
        return None
    mine = tuple(replace(d, path=d.path[len(prefix):]) for d in pair.deltas
                 if d.path.startswith(prefix))
    statuses = {d.status for d in mine}
    if _DELETED in statuses or {_ADDED, _MODIFIED} <= statuses:
        return None
    return mine


_ADDED, _DELETED, _MODIFIED = (int(pygit2.enums.DeltaStatus.ADDED),
                               int(pygit2.enums.DeltaStatus.DELETED),
                               int(pygit2.enums.DeltaStatus.MODIFIED))


def _delta(delta: pygit2.DiffDelta) -> Delta:
    """A delta of a diff with renames found: the old side is None for a new file."""
    old = None if delta.status == _ADDED else (delta.old_file.id, int(delta.old_file.mode))
    new = None if delta.status == _DELETED else (delta.new_file.id, int(delta.new_file.mode))
    return Delta(delta.new_file.path, int(delta.status), old, new)


def criteria_to_run(old: bytes | None, new: bytes, path: str) -> tuple[int, ...]:
    """Unchecked now, and absent (new or edited) or checked before; identity with multiplicity."""
    task = parse_task(new, path)
    still_open: Counter[str] = Counter()
    if old is not None:
        # An unusable old version counts as absent: everything open now is new.
        with contextlib.suppress(TaskbotError):
            still_open.update(c.identity for c in parse_task(old, path).criteria
                              if not c.checked)
    run: list[int] = []
    for criterion in task.unchecked:
        if still_open[criterion.identity] > 0:
            still_open[criterion.identity] -= 1
        else:
            run.append(criterion.index)
    return tuple(run)


def detect(repo: pygit2.Repository, old: str | None, new: str, tasks_dir: str
           ) -> tuple[Trigger, ...]:
    triggers: list[Trigger] = []
    for change in changed_files(repo, old, new, tasks_dir):
        if change.error:
            triggers.append(Trigger(change.path, (), change.error))
            continue
        try:
            indices = criteria_to_run(change.old, change.new, change.path)
        except TaskbotError as exc:
            triggers.append(Trigger(change.path, (), str(exc)))
            continue
        if indices:
            triggers.append(Trigger(change.path, indices))
    return tuple(triggers)
