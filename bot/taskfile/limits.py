"""How much of a task file taskbot reads: past any of these the file is refused, whole.

A task file is pushed by anyone and parsed before its trust is judged, so what one file
can cost must be bounded (issue 17). Every number keeps the worst file of its shape at
the limit parsing in well under a second (`bench/hostile_parse.py`), and sits far above
the largest real task of the shared corpus (122 files; its largest in brackets):
2,948 lines, 127 headings, 22 criteria, no criteria groups, 747 bytes of frontmatter,
432 characters of inline markup parsed. Real Dependencies sections list a few items of
one short line each.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "LIMITS",
    "MAX_BYTES",
    "MAX_CRITERIA",
    "MAX_DEPENDENCIES",
    "MAX_DEPENDENCY_LINE",
    "MAX_FRONTMATTER_BYTES",
    "MAX_FRONTMATTER_NODES",
    "MAX_GROUPS",
    "MAX_HEADINGS",
    "MAX_INLINE_CHARS",
    "MAX_LINES",
    "Limit",
]

MAX_BYTES = 1 << 20  # a task file is prose: 9× the largest real one (114 KB)
# Nodes of the frontmatter with every alias expanded: YAML aliases let a few hundred
# bytes stand for millions of values (an "alias bomb"), which taskbot would construct,
# copy and write into notes and reports. A real frontmatter has a few dozen.
MAX_FRONTMATTER_NODES = 10_000
# The rest cost time: markdown-it's block parser ~40 µs a line, PyYAML ~10 µs a byte,
# markdown-it's inline parser up to ~80 µs a character (`[` and `![` runs), and each
# dependency item reads its own line once more.
MAX_LINES = 10_000  # 3× the largest (2,948), 38× the 90th percentile (266)
MAX_HEADINGS = 1_000  # 8× (127)
MAX_CRITERIA = 1_000  # 45× (22)
MAX_GROUPS = 200  # sub-headings of the Acceptance Criteria that hold criteria
MAX_DEPENDENCIES = 1_000  # task ids read in Dependencies sections
MAX_DEPENDENCY_LINE = 1_000  # characters of one line that names a dependency
MAX_FRONTMATTER_BYTES = 32 << 10  # 43× (747)
# Characters markdown-it's inline parser reads: headings with markup (`## **Setup**`),
# and the paragraph of each criterion that ends with an annotation. 18× (432).
MAX_INLINE_CHARS = 8_000


class Limit(NamedTuple):
    value: int
    what: str  # counted thing, plural: "lines"

    def check(self, count: int) -> str | None:
        """The reason a file with `count` of them is refused, or None."""
        if count <= self.value:
            return None
        return f"{count:,} {self.what}, more than the {self.value:,} taskbot reads"


LIMITS = {
    "lines": Limit(MAX_LINES, "lines"),
    "headings": Limit(MAX_HEADINGS, "headings"),
    "criteria": Limit(MAX_CRITERIA, "criteria"),
    "groups": Limit(MAX_GROUPS, "criteria groups"),
    "dependencies": Limit(MAX_DEPENDENCIES, "dependency items"),
    "frontmatter": Limit(MAX_FRONTMATTER_BYTES, "bytes of frontmatter"),
    "inline": Limit(MAX_INLINE_CHARS, "characters of headings and annotated criteria to "
                                      "read for inline markup"),
}
