"""Which criterion of a changed task file is the one a criterion of an earlier version was.

Identical lines are common (`- [ ] Smoke` under two headings), so the text alone cannot
say, nor can counting identical lines once a person adds one above. The lines of both
versions are aligned in order, as a line diff would (a box's mark does not count as a
change), and a criterion follows to the criterion on the line its own line is aligned
with; like a criterion's identity, a line is compared with its runs of whitespace
collapsed. Common leading and trailing lines are paired in one pass; only the changed middle
is diffed, and a middle too large to diff in bounded time pairs nothing: its criteria
then count as changed, which every caller treats as "leave it to a person".
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot.taskfile.model import normalise
from bot.taskfile.parsed import Parsed
from bot.taskfile.source import line_text

__all__ = ["MAX_MIDDLE", "follow"]

# Lines before × lines after of the changed middle: difflib's cost grows with that product.
# 4,000,000 (2,000 × 2,000, or 50 × 80,000) diffs in about half a second at worst.
MAX_MIDDLE = 4_000_000

_Key = tuple[bool, str]  # (is a criterion, its identity; else the line, normalised)


def _keys(p: Parsed) -> list[_Key]:
    keys: list[_Key] = [(False, normalise(line_text(p.text, p.lines, n)))
                        for n in range(len(p.lines))]
    for c in p.task.criteria:
        keys[c.line] = (True, c.identity)
    return keys


def _paired_lines(a: Sequence[_Key], b: Sequence[_Key]) -> dict[int, int]:
    """Line of `a` → line of `b` for the lines an in-order alignment keeps."""
    lead = 0
    most = min(len(a), len(b))
    while lead < most and a[lead] == b[lead]:
        lead += 1
    trail = 0
    while trail < most - lead and a[-1 - trail] == b[-1 - trail]:
        trail += 1
    pairs = {n: n for n in range(lead)}
    pairs.update({len(a) - 1 - k: len(b) - 1 - k for k in range(trail)})
    mid_a, mid_b = a[lead : len(a) - trail], b[lead : len(b) - trail]
    if mid_a and mid_b and len(mid_a) * len(mid_b) <= MAX_MIDDLE:
        matcher = difflib.SequenceMatcher(None, mid_a, mid_b, autojunk=False)
        for block in matcher.get_matching_blocks():
            pairs.update({lead + block.a + k: lead + block.b + k for k in range(block.size)})
    return pairs


def follow(before: Parsed, after: Parsed) -> dict[int, int]:
    """Criterion index in `before` → index in `after`, for each criterion whose line is still
    there with the same identity (its box, list marker or spacing may have changed)."""
    if before.text == after.text:
        return {c.index: c.index for c in before.task.criteria}
    pairs = _paired_lines(_keys(before), _keys(after))
    at_line = {c.line: c.index for c in after.task.criteria}
    out: dict[int, int] = {}
    for c in before.task.criteria:
        line = pairs.get(c.line)
        if line is not None and line in at_line:
            out[c.index] = at_line[line]
    return out
