"""A first look at a task file nobody trusted yet: does this version bring open boxes?

Before trust is judged, a pushed file is read no deeper than this: one pass over its
lines with one anchored pattern, no Markdown parser, no YAML, no dependencies, at most
MAX_BYTES. It over-counts (a box in a code block or outside the Acceptance Criteria
counts too): its only use is to decide whether a refusal is worth reporting, and a
report too many is better than a push refused in silence.
"""

from __future__ import annotations

import re
from collections import Counter

from bot.taskfile.limits import MAX_BYTES

__all__ = ["brings_open_boxes", "open_boxes"]

# Anchored, and every repetition starts with a marker character: no backtracking blow-up.
_OPEN_BOX_RE = re.compile(r"[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)+\[ \](?=[ \t]|$)")


def open_boxes(data: bytes) -> Counter[str]:
    """Each line that opens with an unchecked box, whitespace-normalised, counted."""
    text = data[: MAX_BYTES + 1].decode("utf-8", errors="replace")
    return Counter(" ".join(line.split()) for line in text.splitlines()
                   if _OPEN_BOX_RE.match(line))


def brings_open_boxes(old: bytes | None, new: bytes) -> bool:
    """Whether `new` has an open box that `old` had not (new, edited or unticked)."""
    before = open_boxes(old) if old is not None else Counter()
    return any(count > before[line] for line, count in open_boxes(new).items())
