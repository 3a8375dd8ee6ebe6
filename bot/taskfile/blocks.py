"""A task file's block structure through markdown-it: headings, list items, the sections
they make and the lines a reader does not see as text.

Token line maps give every position; inline parsing (the slow half) runs only where
needed, within the file's `MAX_INLINE_CHARS` budget (`Inline`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.hr import hr as _md_hr
from markdown_it.token import Token

from bot.taskfile.limits import MAX_INLINE_CHARS
from bot.taskfile.model import Section, normalise
from bot.taskfile.source import blank, check_limit

__all__ = ["MD", "Inline", "Item", "hidden_lines", "homes", "plain_text", "section_key",
           "section_spans", "walk"]

# Block structure only: inline parsing (the slow half) runs just for heading titles.
MD = MarkdownIt("commonmark").disable("inline")
_HR_RUN = {m: re.compile(rf"[{re.escape(m)} \t]*") for m in "*-_"}


def _hr(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's thematic-break rule, which reads the rest of the line a character at a
    time, once per list level opened on it: `- - - … x` (1 MiB) took 2 to 4 s. A line that
    is not only markers and spaces is no break: said at C speed, the rule asked otherwise."""
    pos = state.bMarks[start] + state.tShift[start]
    run = _HR_RUN.get(state.src[pos : pos + 1])
    if run is not None and run.fullmatch(state.src, pos, state.eMarks[start]) is None:
        return False
    return _md_hr(state, start, end, silent)


MD.block.ruler.at("hr", _hr, {"alt": ["paragraph", "reference", "blockquote", "list"]})
_MD_INLINE = MarkdownIt("commonmark")
_INLINE_MARKUP = frozenset("*_`[]<>&\\!")


class Inline:
    """What markdown-it's inline parser may still read of this file (`MAX_INLINE_CHARS`):
    up to ~80 µs a character on hostile markup, so the whole file is budgeted."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.spent = 0

    def parse(self, content: str) -> list[Token]:
        self.spent += len(content)
        if self.spent > MAX_INLINE_CHARS:
            check_limit(self.path, "inline", self.spent)
        return _MD_INLINE.parseInline(content)


def plain_text(inline: Token | None, budget: Inline) -> str:
    """A heading's text as rendered: emphasis, code and link markup dropped."""
    if inline is None:
        return ""
    if not any(ch in _INLINE_MARKUP for ch in inline.content):
        return normalise(inline.content)
    parts: list[str] = []
    for tok in budget.parse(inline.content):
        for child in tok.children or ():
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
    return normalise("".join(parts))


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


def section_key(title: str) -> str:
    t = title.strip()
    if t.endswith(":"):
        t = t[:-1]
    return normalise(t).casefold()


class Item(NamedTuple):
    line: int
    depth: int
    first_child: Token | None  # the first block inside the item
    first_inline: Token | None  # the inline token of that block, if any


class _Heading(NamedTuple):
    level: int
    line: int
    inline: Token | None


def walk(tokens: Sequence[Token]) -> tuple[list[_Heading], list[Item]]:
    """Top-level headings and list items outside block quotes, in document order."""
    headings: list[_Heading] = []
    items: list[Item] = []
    quote_depth = 0
    item_depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == "blockquote_open":
            quote_depth += 1
        elif tok.type == "blockquote_close":
            quote_depth -= 1
        elif tok.type == "list_item_open":
            if quote_depth == 0 and tok.map is not None:
                first = tokens[i + 1] if i + 1 < len(tokens) else None
                if first is not None and first.type == "list_item_close":
                    first = None
                inline = None
                if first is not None and first.type in ("paragraph_open", "heading_open"):
                    nxt = tokens[i + 2] if i + 2 < len(tokens) else None
                    inline = nxt if nxt is not None and nxt.type == "inline" else None
                items.append(Item(tok.map[0], item_depth, first, inline))
            item_depth += 1
        elif tok.type == "list_item_close":
            item_depth -= 1
        elif tok.type == "heading_open" and tok.level == 0 and quote_depth == 0 and tok.map is not None:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            inline = nxt if nxt is not None and nxt.type == "inline" else None
            headings.append(_Heading(int(tok.tag[1:]), tok.map[0], inline))
    return headings, items


def section_spans(heads: Sequence[Section], nlines: int) -> tuple[Section, ...]:
    """Each heading's section runs to the next heading of the same or a higher level
    (one pass: the headings still open wait on a stack)."""
    ends = [nlines] * len(heads)
    open_: list[int] = []
    for k, sec in enumerate(heads):
        while open_ and heads[open_[-1]].level >= sec.level:
            ends[open_.pop()] = sec.start
        open_.append(k)
    return tuple(Section(s.title, s.level, s.start, max(e, s.start + 1))
                 for s, e in zip(heads, ends, strict=True))


def homes(lines: Sequence[int], sections: Sequence[Section]) -> list[Section | None]:
    """For each of `lines` (ascending), the innermost of `sections` (in document order)
    whose body holds it. One sweep: sections nest or lie apart, so the ones holding a
    line are a stack, innermost on top."""
    out: list[Section | None] = []
    stack: list[Section] = []
    k = 0
    for line in lines:
        while k < len(sections) and sections[k].start < line:
            while stack and stack[-1].end <= sections[k].start:
                stack.pop()
            stack.append(sections[k])
            k += 1
        while stack and stack[-1].end <= line:
            stack.pop()
        out.append(stack[-1] if stack else None)
    return out


def hidden_lines(tokens: Sequence[Token]) -> frozenset[int]:
    """Lines the reader does not see as text: code blocks, HTML blocks (comments too)."""
    hidden: set[int] = set()
    for tok in tokens:
        if tok.type in ("code_block", "fence", "html_block") and tok.map is not None:
            hidden.update(range(tok.map[0], tok.map[1]))
    return frozenset(hidden)
