"""What a task's "Dependencies" section means: which task ids it waits on, and for which group.

Real sections mix what blocks the task with what it blocks, unblocks or is merely related
to. An item is a dependency when it has no label, or when its own lead-in or the label
above it says so (`Blocked by`, `Depends on`, `Requires`, `After`, `Needs`, `Must be
completed first`); it is not when it says `Blocks`, `Unblocks`, `Enables`, `Related`,
`See`, `See also`, or calls itself independent or optional. A label — a sub-heading, a
bold line, a `Label:` line — applies to the items under it until the next label. An item
that names a group of the Acceptance Criteria (`Triager` against `### Triager`) blocks that
group only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_ID_RE = re.compile(r"(?<![\w-])([^\W\d_]+)-(\d+)(?![\w-])")
_DEPENDS_RE = re.compile(
    r"\b(blocked\s+by|depends\s+on|dependent\s+on|depends|requires?|required|after|needs?|"
    r"prerequisites?|must\s+be\s+(?:completed|done|finished|resolved)(?:\s+first)?|"
    r"waits?\s+(?:on|for))\b", re.IGNORECASE)
_NOT_RE = re.compile(
    r"\b(blocks|unblocks|enables|related(?:\s+to)?|relates\s+to|see(?:\s+also)?|follow[\s-]?ups?|"
    r"supersedes|duplicates)\b", re.IGNORECASE)
# Said before the id, these turn the meaning round: `Required by TASK-9` is blocked BY this.
_REVERSED_RE = re.compile(
    r"\b(required\s+by|needed\s+by|wanted\s+by|prerequisite\s+(?:for|of|to)|"
    r"must\s+be\s+(?:completed|done|finished|resolved)\s+before|before|blocking)\b",
    re.IGNORECASE)
_SELF_NOT_RE = re.compile(r"\b(independent|optional|not\s+a\s+dependency|no\s+dependency)\b",
                          re.IGNORECASE)
_LIST_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
_MARKUP_RE = re.compile(r"[*_`\[\]()>]")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")


class Dependency(NamedTuple):
    task_id: str
    depends: bool  # False: blocks, related, independent … — never waited on
    why: str  # the label or lead-in that decided, or "" (no label: a dependency)
    groups: tuple[str, ...]  # Acceptance Criteria groups it blocks; () = the whole task
    line: int  # 0-based line in the file
    text: str  # the item as written, for `plan`


def task_ids(text: str) -> list[str]:
    """Task ids in `text` (`TASK-7`, `FFL-12`, `TÄSK-1`: upper-case letters, dash, digits)."""
    return [m.group(0) for m in _ID_RE.finditer(text) if m.group(1) == m.group(1).upper()]


def classify(text: str) -> tuple[bool | None, str]:
    """Whether a label or lead-in says "dependency" (True), "not one" (False) or nothing."""
    plain = " ".join(_MARKUP_RE.sub(" ", text).split())
    reversed_or_not = _REVERSED_RE.search(plain) or _NOT_RE.search(plain)
    found = _DEPENDS_RE.search(plain)
    if found and not (reversed_or_not and reversed_or_not.start() <= found.start()):
        return True, found.group(0)
    if reversed_or_not:
        return False, reversed_or_not.group(0)
    return None, ""


def section_label(title: str) -> tuple[bool | None, str]:
    """A section of its own named like a label (`## Blocks`, `## Blocked By`) labels
    everything in it; (None, "") for any other title."""
    plain = " ".join(_MARKUP_RE.sub(" ", title).split()).rstrip(":").strip()
    for regex, depends in ((_DEPENDS_RE, True), (_NOT_RE, False)):
        if regex.fullmatch(plain):
            return depends, plain
    return None, ""


def read(lines: Sequence[tuple[int, str]], groups: Sequence[str],
         label: tuple[bool | None, str] = (None, ""),
         hidden: frozenset[int] = frozenset()) -> tuple[Dependency, ...]:
    """The dependencies of one section, from its body lines (line number, text); `hidden`
    lines (code, HTML comments and blocks, as the Markdown parser sees them) say nothing."""
    found: list[Dependency] = []
    fenced = False
    for number, raw in lines:
        if _FENCE_RE.match(raw):
            fenced = not fenced
            continue
        if fenced or number in hidden or not raw.strip():
            continue
        heading = _HEADING_RE.match(raw)
        if heading:
            label = classify(heading.group(1))
            continue
        listed = _LIST_RE.match(raw)
        body = raw[listed.end():] if listed else raw.strip()
        ids = task_ids(body)
        if not listed:
            lead = body[: body.find(ids[0])] if ids else body
            said = classify(lead)
            if said[0] is None:
                continue  # prose: only a list item or a labelled line names dependencies
            label = said  # `**Blocked by:**` on a line of its own, or before its ids
            found.extend(_item(i, body, lead, label, groups, number) for i in ids)
            continue
        if ids:
            lead = body[: body.find(ids[0])]
            found.append(_item(ids[0], body, lead, label, groups, number))
    return tuple(found)


def _item(task_id: str, body: str, lead: str, label: tuple[bool | None, str],
          groups: Sequence[str], number: int) -> Dependency:
    rest = body.replace(task_id, " ", 1)
    own = classify(lead)
    # What follows the id straight away (`TASK-1: must be completed first`), not a word in
    # its description (`TASK-9 (it needs the registry)` under `## Blocks` still blocks).
    after = body[body.find(task_id) + len(task_id):].lstrip(" \t:-–—*_`(")
    said = _DEPENDS_RE.match(after)
    itself = _SELF_NOT_RE.search(body)
    if own[0] is not None:
        depends, why = own[0], own[1]
    elif said:
        depends, why = True, said.group(0)
    elif itself:
        depends, why = False, itself.group(0)
    elif label[0] is not None:
        depends, why = label[0], label[1]
    else:
        depends, why = True, ""
    return Dependency(task_id, depends, why, _groups(rest, groups), number, body.strip())


def _groups(text: str, groups: Sequence[str]) -> tuple[str, ...]:
    plain = " ".join(_MARKUP_RE.sub(" ", text).split())
    named: list[str] = []
    for group in dict.fromkeys(g for g in groups if g.strip()):
        words = r"\s+".join(re.escape(w) for w in group.split())
        if re.search(rf"(?<!\w){words}(?!\w)", plain, re.IGNORECASE):
            named.append(group)
    return tuple(named)
