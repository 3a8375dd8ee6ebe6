"""The dashboard's state kept between commits: one object, kept in the process's `Memory`.

The daemon's lives in its `Memory` (`of`), made on first use; given no memory, a function
uses a new state: it reads everything afresh and writes the same bytes.

Per state dir, what the last listing found (`Listing`): every task file's entry (the row
cache's own dicts, `bot.dashboard.cache`, updated in place) and its path in one of three
sorted lists — open, complete, not listed (a problem) — kept sorted by `bisect` as entries
change. A commit then costs what changed and the bounded table it shows, not the number of
files in tasks_dir: nothing here walks every entry except a listing made afresh (a new
process, or a cache another process wrote).
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.dashboard import cache as dashcache
from bot.state.memory import Memory
from bot.state.statedir import read_owned

__all__ = ["DashboardState", "Kind", "Listing", "json_file", "kind", "of", "pick"]

Kind = Literal["open", "complete", "problem"]
_KEPT = 4  # state dirs (tests use many in one process; the daemon one)


class _Said(Protocol):
    """What the lists need of an entry or a row (`taskrows.Entry`, `Row`)."""

    @property
    def task_id(self) -> str: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def problem(self) -> str: ...


def kind(entry: _Said) -> Kind:
    """Where a file's row goes: not listed, a complete task (every criterion checked), open."""
    if entry.problem:
        return "problem"
    return "complete" if entry.total and entry.done == entry.total else "open"


@dataclass
class Listing:
    """Every task file of one tasks_dir as the last listing found it."""

    rows: dashcache.Rows[Any]  # the cache as saved (`files`, `entries`: dicts, updated in place)
    pending: dict[str, Any] = field(default_factory=dict)  # committed, not read yet: a problem
    overlaid: frozenset[str] = frozenset()  # paths taken from the worktree, not HEAD
    lists: dict[Kind, list[str]] = field(default_factory=lambda: {
        "open": [], "complete": [], "problem": []})
    reusable: bool = True  # False: made without a cache to follow (no repository)
    made_at: str = ""  # the HEAD commit it was listed at
    # path → blob id (None: gone) of every file it took from the worktree, when a commit of
    # those paths stores exactly these (no filter rewrites them): taskbot's commit made next
    # changes tasks_dir by this alone (`DashboardState.committed`)
    overlay: dict[str, str | None] | None = None

    @classmethod
    def made(cls, rows: dashcache.Rows[Any], pending: dict[str, Any],
             overlaid: Collection[str], reusable: bool = True) -> Listing:
        """A listing sorted afresh: the one step that walks every entry."""
        out = cls(rows, pending, frozenset(overlaid), reusable=reusable)
        for path in sorted([*(rows.entries or {}), *pending]):
            out._add(path, out.get(path))
        return out

    @property
    def entries(self) -> dict[str, Any]:
        return self.rows.entries  # type: ignore[return-value]  # a dict, as `made` is given

    def get(self, path: str) -> Any:
        """A path's entry, or its pending one, or None."""
        found = self.entries.get(path)
        return found if found is not None else self.pending.get(path)

    def paths(self) -> Iterator[str]:
        """Every listed path, sorted (for a whole table: tests, a fresh render)."""
        yield from sorted([*self.entries, *self.pending])

    def moved(self, path: str, old: _Said | None, new: _Said | None) -> None:
        """`path`'s entry went from `old` to `new` (None: absent): the lists follow."""
        if old is not None:
            paths = self.lists[kind(old)]
            at = bisect.bisect_left(paths, path)
            if at < len(paths) and paths[at] == path:
                del paths[at]
        if new is not None:
            self._add(path, new)

    def _add(self, path: str, entry: _Said | None) -> None:
        if entry is None:
            return
        bisect.insort(self.lists[kind(entry)], path)


def pick(paths: Sequence[str], limit: int, always: Collection[str] = ()) -> list[str]:
    """The last `limit` of sorted `paths` by path, and those of `always` among them: the
    rows a table shows. Costs `limit`, not `len(paths)`."""
    out = [p for p in always if _holds(paths, p)]
    at = len(paths)
    taken = 0
    while at > 0 and taken < limit:
        at -= 1
        if paths[at] not in always:
            out.append(paths[at])
            taken += 1
    return out


def _holds(paths: Sequence[str], path: str) -> bool:
    at = bisect.bisect_left(paths, path)
    return at < len(paths) and paths[at] == path


Stamp = tuple[int, ...] | None


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns


class DashboardState:
    """Everything the dashboard keeps in memory between commits, for a few state dirs: the
    row cache as last loaded or saved, the listings, the last rows built, the state dir's
    JSON documents as last parsed. Used from one thread: the pipeline's, which makes a
    run's commit (groups side by side never commit the tasks repository themselves)."""

    def __init__(self) -> None:
        self.row_cache = dashcache.Memo()
        self._listings: dict[str, Listing] = {}
        self._built: dict[str, dict[str, Any]] = {}
        self._docs: dict[Path, tuple[Stamp, Any]] = {}
        self._commits: dict[str, str] = {}

    def committed(self, state_dir: str, sha: str) -> None:
        """Taskbot committed `sha` of the paths the last listing took from the worktree (as
        `writeback.commit` does right after `in_commit`): the next listing then knows what
        changed in tasks_dir without reading its tree (`Listing.overlay`)."""
        _bounded_put(self._commits, state_dir, sha)

    def forget(self, state_dir: str) -> None:
        """Drop all that is kept for `state_dir`: a listing cut short by an error may have
        changed its entries and not its lists, and the next commit then lists afresh."""
        for kept in (self._listings, self._built, self._commits):
            kept.pop(state_dir, None)
        self.row_cache.drop(Path(state_dir))

    def last_commit(self, state_dir: str) -> str:
        return self._commits.get(state_dir, "")

    def listing(self, state_dir: str) -> Listing | None:
        return self._listings.get(state_dir)

    def keep(self, state_dir: str, listing: Listing) -> None:
        _bounded_put(self._listings, state_dir, listing)

    def built(self, state_dir: str) -> dict[str, Any]:
        """Path → the row of the last table (and what it was made of): a row unchanged
        since costs nothing."""
        return self._built.get(state_dir, {})

    def keep_built(self, state_dir: str, built: dict[str, Any]) -> None:
        _bounded_put(self._built, state_dir, built)

    def document(self, path: Path, load: Callable[[], Any]) -> Any:
        """`load()` (a JSON document of the state dir), parsed again only when the file's
        stamp changed: status.json holds up to 500 tasks, the waiting store one per task."""
        stamp = _stamp(path)
        held = self._docs.get(path)
        if held is not None and held[0] == stamp:  # None twice: absent both times
            return held[1]
        doc = load()
        _bounded_put(self._docs, path, (stamp, doc))
        return doc


def _bounded_put(into: dict[Any, Any], key: Any, value: Any) -> None:
    into.pop(key, None)
    while len(into) >= _KEPT * 2:
        del into[next(iter(into))]
    into[key] = value


def json_file(path: Path) -> dict[str, Any]:
    """A JSON object of taskbot's in the state dir, or {}."""
    try:
        data = json.loads(read_owned(path))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def of(memory: Memory | None) -> DashboardState:
    """The state kept in `memory` (made on first use), or a new one: nothing kept."""
    return memory.dashboard.get(DashboardState) if memory is not None else DashboardState()
