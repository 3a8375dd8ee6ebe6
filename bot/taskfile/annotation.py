"""A criterion's trailing `<!-- taskbot: … -->` annotation, found with string operations
(whether markdown-it reads it as an HTML comment: `blocks.is_comment`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Annotation", "trailing_annotation"]

class Annotation(NamedTuple):
    start: int  # where `<!--` opens
    body: str  # between `taskbot:` and `-->`
    comment: str  # from `<!--` to `-->`


def trailing_annotation(line: str) -> Annotation | None:
    """The `<!-- taskbot: … -->` that ends `line` (spaces and tabs after it aside): the
    leftmost `<!--`, spaces or tabs, `taskbot:` whose body up to the final `-->` holds no
    other `-->`. String searches, each part of the line read a bounded number of times
    (a backtracking pattern took 13 s on a line of `x <!--taskbot:`)."""
    end = len(line.rstrip(" \t"))
    close = end - 3
    if close < 0 or line[close:end] != "-->":
        return None
    # the body must not hold "-->": it starts after the last one before the final one
    earlier = line.rfind("-->", 0, close)
    t = line.find("taskbot:", max(0, earlier - 7))
    while t >= 0 and t + 8 <= close:
        k = t
        while k > 0 and line[k - 1] in " \t":
            k -= 1
        if k >= 4 and line[k - 4 : k] == "<!--":
            return Annotation(k - 4, line[t + 8 : close], line[k - 4 : end])
        t = line.find("taskbot:", t + 1)
    return None
