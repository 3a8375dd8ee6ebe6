"""The files two trees differ in, compared once per push and handed along the pipeline.

Detection, trust and the worktree's reset each compared a push's old and new tips, and
the daemon runs without libgit2's object cache: with thousands of task files in one
folder, each comparison read and parsed that folder on both sides again. A `Pair` is the
plain comparison (no rename or copy detection), made once, and named by the two trees'
ids: their content, so it answers for those two trees in any repository that holds them,
and for no others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

__all__ = ["Delta", "Pair", "between", "of"]

Side = tuple["pygit2.Oid", int]  # an entry's id and git mode


@dataclass(frozen=True)
class Delta:
    path: str
    status: int  # pygit2.enums.DeltaStatus: ADDED, DELETED or MODIFIED in a plain diff
    old: Side | None  # None: not in the old tree
    new: Side | None  # None: not in the new tree


@dataclass(frozen=True)
class Pair:
    old_tree: pygit2.Oid
    new_tree: pygit2.Oid
    deltas: tuple[Delta, ...]

    def of(self, old_tree: pygit2.Oid, new_tree: pygit2.Oid) -> bool:
        """Whether this is the comparison of these two trees."""
        return (self.old_tree, self.new_tree) == (old_tree, new_tree)

    def only(self, *statuses: int) -> bool:
        """Whether every changed path has one of `statuses` (True where nothing changed)."""
        return all(d.status in statuses for d in self.deltas)


def between(old: pygit2.Tree, new: pygit2.Tree) -> Pair:
    """The plain comparison of two trees, as `old.diff_to_tree(new)` gives it."""
    import pygit2  # noqa: PLC0415 -- loaded with the trees already

    added, deleted = pygit2.enums.DeltaStatus.ADDED, pygit2.enums.DeltaStatus.DELETED
    deltas = tuple(
        Delta(d.new_file.path, int(d.status),
              None if d.status == added else (d.old_file.id, int(d.old_file.mode)),
              None if d.status == deleted else (d.new_file.id, int(d.new_file.mode)))
        for d in old.diff_to_tree(new).deltas)
    return Pair(old.id, new.id, deltas)


def of(repo: pygit2.Repository, old: str | None, new: str) -> Pair | None:
    """The comparison of two commits' trees (by revision); None without an old one (a new
    branch: its old tip is git's zero id, which the caller has made None)."""
    import pygit2  # noqa: PLC0415 -- loaded with `repo` already

    if old is None:
        return None
    before, after = (repo.revparse_single(rev).peel(pygit2.Commit).tree for rev in (old, new))
    return between(before, after)
