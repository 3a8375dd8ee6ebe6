"""The shallow looks an untrusted push's files get, bounded per push.

A file nobody trusted is never parsed; it is looked at only to tell whether its refusal is
worth a report (`bot.taskfile.shallow`). A push of a few bytes may still name thousands of
distinct blobs of up to 1 MiB each (50,000 that compress well: ~50 GB to inflate). Each
(old, new) pair of blobs is looked at once per push, and no more than `BUDGET` bytes are
looked at in all: past it, a file is refused without a look, and its line says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.git.detect import Change, blob_size
from bot.taskfile.shallow import brings_open_boxes

__all__ = ["BUDGET", "NOT_LOOKED", "Looked"]

BUDGET = 64 << 20  # bytes of untrusted files one push may make taskbot read
NOT_LOOKED = (f" (not read: this push brought more than {BUDGET >> 20} MiB of task files "
              "nobody trusted)")


@dataclass
class Looked:
    """One push's looks: answers by (old, new) blob ids, and the bytes read so far."""

    answers: dict[tuple[str, str], bool] = field(default_factory=dict)
    read: int = 0

    def brings_open_boxes(self, change: Change) -> bool | None:
        """Whether the change brings an open box; None: past the budget, not looked at."""
        key = (str(change.old_id), str(change.new_id))
        if key in self.answers:
            return self.answers[key]
        assert change.repo is not None, "a change with a version has its repository"
        size = sum(blob_size(change.repo, oid) for oid in (change.old_id, change.new_id)
                   if oid is not None)
        if self.read + size > BUDGET:
            return None
        self.read += size
        self.answers[key] = brings_open_boxes(change.old, change.new)
        return self.answers[key]

