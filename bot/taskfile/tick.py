"""`Tick`: how an edit names the criterion to tick — never by its text alone.

Two criteria can read the same (`- [ ] Smoke` under two headings, each inheriting other
parameters); which of them ran is its identity and its occurrence, counted in the
version of the file the run read. Light on purpose: the runner and reports name
results by it without loading the editor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.taskfile.model import Criterion, Tick, occurrences

__all__ = ["Tick", "ticks_for"]




def ticks_for(criteria: Sequence[Criterion], indices: Iterable[int]) -> tuple[Tick, ...]:
    """The ticks for the criteria at `indices` of `criteria` (a whole file's, in order)."""
    counted = occurrences(criteria)
    return tuple(Tick(criteria[i].identity, counted[i]) for i in indices)
