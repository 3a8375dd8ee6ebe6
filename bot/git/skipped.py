"""An index entry git's sparse checkout skips: its skip-worktree bit, set in process.

pygit2 builds an index entry from a path, blob and mode only; libgit2 keeps and writes the
bit (`GIT_INDEX_ENTRY_SKIP_WORKTREE`) but pygit2 offers no way to set it, so it is set on
libgit2's own entry. Without it git would take the file the sparse worktree does not hold
for one removed (`bot.git.reset` in a sparse worktree, `bot.git.sparse`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pygit2

__all__ = ["mark"]

_SKIP_WORKTREE = 1 << 14  # GIT_INDEX_ENTRY_SKIP_WORKTREE, in `flags_extended`


def mark(index: pygit2.Index, path: str) -> None:
    """The entry at `path` (in `index`, in memory) skipped by the sparse checkout; KeyError
    when the index holds none."""
    from pygit2.ffi import C, ffi  # noqa: PLC0415 -- loaded with the index already
    handle: Any = getattr(index, "_index")  # noqa: B009 -- pygit2's handle of libgit2's index
    found: Any = C.git_index_get_bypath(handle, path.encode("utf-8"), 0)
    if found == ffi.NULL:
        raise KeyError(path)
    ffi.cast("git_index_entry *", found).flags_extended |= _SKIP_WORKTREE
