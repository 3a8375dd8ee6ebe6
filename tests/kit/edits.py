"""What an edit changed in a file's bytes, for tests that check edits touch one place only."""

from __future__ import annotations


def only_change(old: bytes, new: bytes) -> tuple[int, bytes, bytes]:
    """(offset, removed, inserted) of the single contiguous change from old to new."""
    i = 0
    while i < min(len(old), len(new)) and old[i] == new[i]:
        i += 1
    j = 0
    while j < min(len(old), len(new)) - i and old[-1 - j] == new[-1 - j]:
        j += 1
    return i, old[i : len(old) - j], new[i : len(new) - j]
