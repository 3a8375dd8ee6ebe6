"""A list item as a criterion (its box where the parser agrees there is one) or as a
progress-log entry.
"""

from __future__ import annotations

import re

from bot.taskfile.annotation import trailing_annotation
from bot.taskfile.blocks import Inline, Item, is_comment
from bot.taskfile.model import Criterion

__all__ = ["criterion", "item_text"]

# Applied to the first line of a list item only: where its box is. Repeated markers
# cover items that open on the same line as their parent ("- - [ ] x").
_BOX_RE = re.compile(r"^[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)+(?P<box>\[(?P<mark>[ xX])\])(?=[ \t]|$)")
_MARKER_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")


def item_text(item: Item, src: str) -> str:
    m = _MARKER_RE.match(src)
    if m is not None:
        return src[m.end() :].strip()
    if item.first_inline is not None:
        return item.first_inline.content.split("\n", 1)[0].strip()
    return ""


def criterion(item: Item, src: str, group: str, index: int, budget: Inline
               ) -> Criterion | None:
    # The parser must agree: the item's first block is a paragraph on the item's own
    # line whose text starts with the box (not code, not a heading, not a quote).
    first, inline = item.first_child, item.first_inline
    if first is None or first.type != "paragraph_open" or inline is None:
        return None
    if first.map is None or first.map[0] != item.line:
        return None
    content = inline.content
    if len(content) < 3 or content[0] != "[" or content[2] != "]" or content[1] not in " xX":
        return None
    if len(content) > 3 and content[3] not in " \t\n":
        return None
    m = _BOX_RE.match(src)
    if m is None:
        return None
    col = m.start("box")
    raw = src[m.end("box") :].strip()
    annotation: str | None = None
    text = raw
    a = trailing_annotation(raw)
    if a is not None and is_comment(inline.content, a.comment, budget):
        annotation = a.body.strip()
        text = raw[: a.start].strip()
    return Criterion(
        index=index,
        line=item.line,
        col=col,
        checked=m.group("mark") in "xX",
        text=text,
        raw=raw,
        annotation=annotation,
        depth=item.depth,
        group=group,
    )
