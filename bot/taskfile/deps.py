"""What a task's "Dependencies" section means: which task ids it waits on, and for which group.

Real sections mix what blocks the task with what it blocks, unblocks or is merely related
to. An item is a dependency when it has no label, or when its own lead-in or the label
above it says so (`Blocked by`, `Depends on`, `Requires`, `After`, `Needs`, `Must be
completed first`); it is not when it says `Blocks`, `Unblocks`, `Enables`, `Related`,
`See`, `See also`, or calls itself independent or optional. A label — a sub-heading, a
bold line, a `Label:` line — applies to the items under it until the next label. An item
that names a group of the Acceptance Criteria (`Triager` against `### Triager`) blocks that
group only.

Reading is linear in the section: `scan` finds the items in one pass, `judge` reads each
item's own line, and the group names are looked up in one automaton built once per file
(`GroupIndex`), not a pattern per (group, item) pair.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections import deque
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from bot.taskfile.model import Dependency

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
    r"\b(required\s+(?:by|for)|needed\s+(?:by|for)|wanted\s+by|prerequisite\s+(?:for|of|to)|"
    r"must\s+be\s+(?:completed|done|finished|resolved)\s+before|before|blocking)\b",
    re.IGNORECASE)
_SELF_NOT_RE = re.compile(r"\b(independent|optional|not\s+a\s+dependency|no\s+dependency)\b",
                          re.IGNORECASE)
_LIST_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
# The title is the rest of the line less trailing spaces and `#`s (`str.rstrip`, as the
# lazy `(.*?)[ \t#]*$` did, but without its backtracking: quadratic on `# # # # …`).
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+")
_MARKUP_RE = re.compile(r"[*_`\[\]()>]")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")
# The person's word that a dependency is done: a check mark, a checked box, or a status word
# standing as a status (`(COMPLETED ✅)`, `– done`, `: Completed`), not in a sentence
# (`must be completed first`, `once TASK-1 is done`).
_DONE_MARK_RE = re.compile(r"[\u2705\u2714\u2611\u2713]")
_DONE_WORD_RE = re.compile(
    r"(?:^|[(\[:|,]|\s[-–—]|[–—])[ \t*_`]*(done|completed|finished)\b"
    r"(?![ \t*_`]*(?:first|before|by|when|once|after|with|in\s+TASK))", re.IGNORECASE)
_CHECKED_RE = re.compile(r"^\[[xX]\][ \t]")
# Between two ids of one list (`TASK-2, TASK-3`, `TASK-4 / TASK-5`): each id of the run is
# an item. `and` is not a separator: `depends on ABC-12 and TASK-3` has long meant ABC-12.
_ID_GAP_RE = re.compile(r"[ \t*_`]*[,;/][ \t*_`]*")


def task_ids(text: str) -> list[str]:
    """Task ids in `text` (`TASK-7`, `FFL-12`, `TÄSK-1`: upper-case letters, dash, digits)."""
    return [m.group(0) for m in _id_matches(text)]


def _id_matches(text: str) -> list[re.Match[str]]:
    return [m for m in _ID_RE.finditer(text) if m.group(1) == m.group(1).upper()]


def listed_ids(text: str) -> list[str]:
    """The first id of a list item and the ids listed right after it (`TASK-2, TASK-3`); an
    id further on, in the item's description, is not one of its items."""
    found = _id_matches(text)
    run = found[:1]
    for m in found[1:]:
        if not _ID_GAP_RE.fullmatch(text, run[-1].end(), m.start()):
            break
        run.append(m)
    return [m.group(0) for m in run]


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


class Pending(NamedTuple):
    """An item found by `scan`, not yet judged: the id, its line, what labels it."""

    task_id: str
    body: str
    lead: str
    label: tuple[bool | None, str]
    number: int


def read(lines: Sequence[tuple[int, str]], groups: Sequence[str] | GroupIndex,
         label: tuple[bool | None, str] = (None, ""),
         hidden: frozenset[int] = frozenset()) -> tuple[Dependency, ...]:
    """The dependencies of one section, from its body lines (line number, text); `hidden`
    lines (code, HTML comments and blocks, as the Markdown parser sees them) say nothing."""
    return judge(scan(lines, label, hidden), groups)


def scan(lines: Sequence[tuple[int, str]], label: tuple[bool | None, str] = (None, ""),
         hidden: frozenset[int] = frozenset()) -> list[Pending]:
    """The items of one section, in one pass over its lines: cheap, so a caller can count
    them (and refuse too many) before `judge` reads each one."""
    found: list[Pending] = []
    fenced = False
    for number, raw in lines:
        if _FENCE_RE.match(raw):
            fenced = not fenced
            continue
        if fenced or number in hidden or not raw.strip():
            continue
        heading = _HEADING_RE.match(raw)
        if heading:
            label = classify(raw[heading.end():].rstrip(" \t#"))
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
            found.extend(Pending(i, body, lead, label, number) for i in ids)
            continue
        if ids:
            lead = body[: body.find(ids[0])]
            found.extend(Pending(i, body, lead, label, number) for i in listed_ids(body))
    return found


def judge(pending: Iterable[Pending], groups: Sequence[str] | GroupIndex
          ) -> tuple[Dependency, ...]:
    """What each item found by `scan` means."""
    index = groups if isinstance(groups, GroupIndex) else group_index(tuple(groups))
    return tuple(_item(p.task_id, p.body, p.lead, p.label, index, p.number) for p in pending)


def _item(task_id: str, body: str, lead: str, label: tuple[bool | None, str],
          groups: GroupIndex, number: int) -> Dependency:
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
    return Dependency(task_id, depends, why, groups.named(rest), number, body.strip(),
                      said_done(body, task_id, lead))


def said_done(body: str, task_id: str, lead: str = "") -> str:
    """What in an item says its dependency is done (`✅`, `COMPLETED`, `[x]`), or "": the
    item's checked box, else the words from the id to the next id (and the lead-in, for
    the first id: `✅ TASK-6`)."""
    if _CHECKED_RE.match(body):
        return "[x]"
    start = body.find(task_id) + len(task_id)
    later = [m.start() for m in _id_matches(body[start:])]
    own = body[start: start + later[0]] if later else body[start:]
    if body.find(task_id) == len(lead):
        own = f"{lead} {own}"
    found = _DONE_WORD_RE.search(own) or _DONE_MARK_RE.search(own)
    if found is None:
        return ""
    return found.group(found.lastindex or 0)


# A group is named where its words stand in the item's text as whole words, in any case,
# markup and runs of spaces aside: what `(?<!\w)Word\s+Word(?!\w)` (ignoring case) finds
# in the text with `_MARKUP_RE` blanked. Both sides are cut into atoms — a run of word
# characters, any other character — with a marker wherever a text may start (B: the atom
# before is not a word run) or end (E: the atom after is not one); a name then matches
# exactly where its atoms, B first and E last, stand in a row in the text's.
_ATOM_RE = re.compile(r"\w+|[^\w ]| ")
_START, _END = "\x00B", "\x00E"  # never an atom: longer than one character, not \w
_ATOM_WORD_RE = re.compile(r"\w")


def _case_table() -> dict[int, int]:
    """Characters `re.IGNORECASE` holds equal beyond `str.lower` (`ſ` and `s`, `ς` and `σ`
    …), each to one of its class; `İ` to `i`, as re's one-character lower case has it."""
    try:  # re's own table (3.11+), private: without it, plain lower case
        extra: dict[int, tuple[int, ...]] = importlib.import_module("re._casefix")._EXTRA_CASES
    except (ImportError, AttributeError):  # pragma: no cover - another Python
        extra = {}
    table = {k: min((k, *v)) for k, v in extra.items()}
    table[0x130] = ord("i")
    return table


_CASE = _case_table()


def _atoms(text: str, *, markup: bool = False) -> list[str]:
    """The atoms of `text` as matched (spaces collapsed, lower case; markup blanked unless
    kept, as in a group's name), with the B and E markers."""
    plain = " ".join((text if markup else _MARKUP_RE.sub(" ", text)).split())
    atoms = [a.translate(_CASE).lower().translate(_CASE) for a in _ATOM_RE.findall(plain)]
    out: list[str] = []
    for k, atom in enumerate(atoms):
        if k == 0 or not _is_word(atoms[k - 1]):
            out.append(_START)
        out.append(atom)
        if k == len(atoms) - 1 or not _is_word(atoms[k + 1]):
            out.append(_END)
    return out


def _is_word(atom: str) -> bool:
    return atom != " " and bool(_ATOM_WORD_RE.match(atom))


class GroupIndex:
    """The group names of one file as an Aho–Corasick automaton over atoms: `named` reads
    an item's text once, whatever the number of groups."""

    def __init__(self, groups: Sequence[str]) -> None:
        self.groups = tuple(dict.fromkeys(g for g in groups if g.strip()))
        self._goto: list[dict[str, int]] = [{}]
        self._out: list[list[int]] = [[]]
        for n, group in enumerate(self.groups):
            node = 0
            for atom in _atoms(group, markup=True):
                node = self._goto[node].get(atom) or self._add(node, atom)
            self._out[node].append(n)
        self._fail = [0] * len(self._goto)
        self._link = [-1] * len(self._goto)  # the next node down the fail chain with output
        self._links()

    def _add(self, node: int, atom: str) -> int:
        self._goto.append({})
        self._out.append([])
        self._goto[node][atom] = len(self._goto) - 1
        return len(self._goto) - 1

    def _links(self) -> None:
        queue = deque(self._goto[0].values())
        while queue:
            node = queue.popleft()
            for atom, child in self._goto[node].items():
                queue.append(child)
                back = self._fail[node]
                while back and atom not in self._goto[back]:
                    back = self._fail[back]
                target = self._goto[back].get(atom, 0)
                self._fail[child] = target if target != child else 0
                fallback = self._fail[child]
                self._link[child] = fallback if self._out[fallback] else self._link[fallback]

    def named(self, text: str) -> tuple[str, ...]:
        """The groups `text` names, in the order of the groups."""
        if not self.groups:
            return ()
        found: set[int] = set()
        seen: set[int] = set()  # nodes reported: their whole chain is, too
        node = 0
        for atom in _atoms(text):
            while node and atom not in self._goto[node]:
                node = self._fail[node]
            node = self._goto[node].get(atom, 0)
            hit = node if self._out[node] else self._link[node]
            while hit > 0 and hit not in seen:
                seen.add(hit)
                found.update(self._out[hit])
                hit = self._link[hit]
        return tuple(self.groups[n] for n in sorted(found))


@functools.lru_cache(maxsize=8)
def group_index(groups: tuple[str, ...]) -> GroupIndex:
    """One automaton per file's groups: every item and section of the file shares it."""
    return GroupIndex(groups)
