"""A criterion's trailing `<!-- taskbot: … -->` annotation: found with string operations,
and counted only where markdown-it reads it as an HTML comment.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.taskfile.blocks import Inline
from bot.taskfile.source import blank

__all__ = ["Annotation", "is_comment", "trailing_annotation"]

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


def is_comment(content: str, candidate: str, budget: Inline) -> bool:
    """Does the paragraph's first line end with `candidate` as an HTML comment, as the
    Markdown parser reads it (not inside a code span, not escaped, not in a link)?"""
    children = [c for tok in budget.parse(content) for c in tok.children or ()]
    first_line = next((i for i, c in enumerate(children)
                       if c.type in ("softbreak", "hardbreak")), len(children))
    for child in reversed(children[:first_line]):
        if child.type == "text" and blank(child.content):
            continue
        return child.type == "html_inline" and child.content == candidate
    return False
