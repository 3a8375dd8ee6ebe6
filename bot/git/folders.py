"""A path's entry in a tree, its folder read (parsed) once per version and shared.

The daemon runs without libgit2's object cache (`bot.commands.serve`), so every look at a
path in a tree reads and parses each folder on its way again: a folder of thousands of task
files costs a millisecond a look, and a push looks at it from detection, trust, the
worktree's reset, the attributes check and the commit. Here a folder is found first (only
the small trees above it are read), then kept by its id — its content, never stale — for
the next look, in any repository holding it. Only the last few are kept, in the process's
`Memory` (`memory.folders`); without one, every look reads the folder afresh.

Every name a tree is asked for is interned first: pygit2 (1.21) keeps a reference to each
key it is given (`tree[name]`, `name in tree`), so a new string per lookup was memory
never freed (~3 MB over the soak's 2,000 pushes); an interned one is one string per name.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.state.memory import Memory

if TYPE_CHECKING:
    import pygit2

__all__ = ["entry", "folder"]

_LIMIT = 6  # folders kept, newest last; the oldest is dropped


def folder(tree: pygit2.Tree, path: str, memory: Memory | None) -> pygit2.Tree | None:
    """The folder at `path` in `tree` ("": the tree itself), None where there is no folder:
    read once per version, then kept."""
    import pygit2  # noqa: PLC0415 -- loaded with `tree` already

    try:
        found = tree[sys.intern(path)] if path else tree
    except KeyError:
        return None
    if not isinstance(found, pygit2.Tree):
        return None
    if memory is None:
        return found
    cache = memory.folders
    with cache.lock:  # groups side by side commit from their own threads
        kept = cache.items.pop(found.id, found)
        cache.items[found.id] = kept
        if len(cache.items) > _LIMIT:
            del cache.items[next(iter(cache.items))]
    return kept


def entry(tree: pygit2.Tree, path: str, memory: Memory | None) -> pygit2.Object | None:
    """What `tree` holds at `path` (a file, a link, a folder, a submodule), None where
    nothing is; `tree[path]` but for the folder read once."""
    parent, _, name = path.rpartition("/")
    holder = folder(tree, parent, memory)
    name = sys.intern(name)
    if holder is None or name not in holder:
        return None
    return holder[name]

