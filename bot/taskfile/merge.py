"""Three-way merge of a task file by meaning: what `taskbot merge-file` (git's merge driver)
and taskbot's own re-apply on a moved branch both use.

Ticks, `updated:` and Progress Log entries are what two people (or a person and taskbot)
change at once without touching the same thing, so they merge by meaning: a box flipped
on one side is flipped on the same criterion of the result (criteria followed by their
lines, `bot.taskfile.follow`: never onto another line that reads the same, such as one a
person added), `updated:` takes the later of the dates that changed, and log entries
from both sides are kept once each in time order (placed in one pass, so a long log
costs no more than its length).
Those three are first set back to the base's on every side, the rest goes through
`git merge-file`, and the merged ticks, date and entries are put back into its result.
Conflict markers therefore appear only where both sides changed the same criterion or
the same prose line. A side that is no usable task file gets plain `git merge-file`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import TaskbotError, TaskFileError
from bot.proc import run_command
from bot.taskfile.edit import apply
from bot.taskfile.follow import follow
from bot.taskfile.limits import MAX_BYTES
from bot.taskfile.model import Applied, Edit, normalise
from bot.taskfile.parse import parse_cached
from bot.taskfile.parsed import Parsed
from bot.taskfile.source import DATE_RE

__all__ = ["Merged", "merge", "plain", "reapply"]

_ENTRY_RE = re.compile(r"^ {0,3}[-*+](?:[ \t]|$)")
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_TIME_RE = re.compile(r"^ {0,3}[-*+][ \t]+(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2})(?!\d)")

GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Merged:
    data: bytes
    conflicts: int  # 0: merged cleanly; else the number of conflict regions left in `data`


@dataclass(frozen=True)
class _Entry:
    first: int  # line index of the entry's list marker
    lines: tuple[str, ...]  # the entry's lines without their line breaks

    @property
    def ident(self) -> str:
        return normalise(" ".join(self.lines))

    @property
    def time(self) -> str | None:
        m = _TIME_RE.match(self.lines[0])
        return m.group(1).replace("T", " ") if m else None


class _Unmergeable(Exception):
    """The by-meaning merge cannot be done safely: plain `git merge-file` instead."""


# --------------------------------------------------------------------------- git merge-file


def plain(base: bytes, ours: bytes, theirs: bytes, path: str) -> Merged:
    """`git merge-file` on the bytes as they are."""
    with tempfile.TemporaryDirectory(prefix="taskbot-merge-") as tmp:
        files = [Path(tmp) / n for n in ("ours", "base", "theirs")]
        for f, data in zip(files, (ours, base, theirs), strict=True):
            f.write_bytes(data)
        labels = [f"{side}:{path}" for side in ("ours", "base", "theirs")]
        # The git program itself, not bot.git: taskfile/ stays below git/ in the import graph.
        argv = ["git", "merge-file", *(a for label in labels for a in ("-L", label)),
                *map(str, files)]
        record = run_command(argv, tmp, timeout=GIT_TIMEOUT)
        status = record.exit_status
        if status is None or not 0 <= status < 128:
            raise TaskbotError(f"{path}: git merge-file failed: {record.error_line or record.error}")
        return Merged(files[0].read_bytes(), status)


# --------------------------------------------------------------------------- by meaning


def merge(base: bytes, ours: bytes, theirs: bytes, path: str) -> Merged:
    """Merge `ours` and `theirs` (both changed from `base`) by meaning; see the module doc."""
    try:
        return _by_meaning(base, ours, theirs, path)
    except (_Unmergeable, TaskFileError, ValueError):
        return plain(base, ours, theirs, path)


def _by_meaning(base: bytes, ours: bytes, theirs: bytes, path: str) -> Merged:
    pb, po, pt = (parse_cached(d, path) for d in (base, ours, theirs))
    updated = _later_date(pb, po, pt)
    flips, o_text, t_text = _merge_ticks(pb, po, pt)
    base_log = Counter(e.ident for e in _entries(pb))
    o_text, o_new = _strip_new_entries(po, o_text, base_log)
    t_text, t_new = _strip_new_entries(pt, t_text, base_log)
    # Everything that parses the files again works on them without the new log entries:
    # each full parse of a long log is the one cost that grows with it.
    o_data, t_data = (_dated(text, _date(pb), path) if updated else text.encode("utf-8")
                      for text in (o_text, t_text))
    rest = plain(base, o_data, t_data, path)
    data = _set_ticks(rest.data, pb, flips, path)
    if updated is not None:
        data = apply(data, Edit(updated=updated), path).data
    if rest.conflicts == 0:
        parse_cached(data, path)  # a clean merge must still be a task file
    data = _add_entries(data, [*o_new, *t_new], path)
    if len(data) > MAX_BYTES:
        raise _Unmergeable(f"the merged file would be larger than {MAX_BYTES} bytes")
    return Merged(data, rest.conflicts)


# ---- updated:


def _date(p: Parsed) -> str | None:
    value = p.task.frontmatter.get("updated")
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = value.isoformat()
    return value if isinstance(value, str) and DATE_RE.fullmatch(value) else None


def _later_date(pb: Parsed, po: Parsed, pt: Parsed) -> str | None:
    """The merged `updated:`: the later of the dates that changed (None: leave it to git)."""
    b, o, t = (_date(p) for p in (pb, po, pt))
    if b is None or o is None or t is None or o == t == b:
        return None
    return max(d for d in (o, t) if d != b)


def _dated(text: str, date: str | None, path: str) -> bytes:
    """A side's text with `updated:` set back to the base's `date`."""
    data = text.encode("utf-8")
    if date is None or _date(parse_cached(data, path)) == date:
        return data
    return apply(data, Edit(updated=date), path).data


# ---- ticks


def _box_at(p: Parsed, index: int) -> int:
    c = p.task.criteria[index]
    return p.lines[c.line].start + c.col + 1


def _merge_ticks(pb: Parsed, po: Parsed, pt: Parsed) -> tuple[dict[int, str], str, str]:
    """Flipped boxes by the base's criterion index (with the mark to put back) and both
    sides' texts with those boxes set back to the base's mark. A box flipped on one side
    whose criterion the other side changed or removed stays flipped: git then sees both
    sides change that line."""
    fo, ft = follow(pb, po), follow(pb, pt)
    flips: dict[int, str] = {}
    texts: list[str] = []
    for p, mine, other in ((po, fo, ft), (pt, ft, fo)):
        text = list(p.text)
        for b, index in mine.items():
            if b not in other or p.task.criteria[index].checked == pb.task.criteria[b].checked:
                continue
            at = _box_at(p, index)
            flips[b] = text[at]
            text[at] = pb.text[_box_at(pb, b)]
        texts.append("".join(text))
    return flips, texts[0], texts[1]


def _set_ticks(data: bytes, pb: Parsed, flips: dict[int, str], path: str) -> bytes:
    if not flips:
        return data
    p = parse_cached(data, path)
    where = follow(pb, p)
    text = list(p.text)
    for b, mark in flips.items():
        if b not in where:
            raise _Unmergeable(f"criterion {pb.task.criteria[b].identity!r} is gone from the merge")
        text[_box_at(p, where[b])] = mark
    return "".join(text).encode("utf-8")


# ---- Progress Log


def _entries(p: Parsed) -> list[_Entry]:
    """The list items of the Progress Log sections: a marker line and its continuation lines."""
    out: list[_Entry] = []
    for sec in p.log_sections:
        current: list[str] = []
        first = 0
        for n in range(sec.start + 1, min(sec.end, len(p.lines))):
            ln = p.lines[n]
            line = p.text[ln.start : ln.end]
            starts = _ENTRY_RE.match(line) is not None
            if current and (starts or not line.strip() or _HEADING_RE.match(line)):
                out.append(_Entry(first, tuple(current)))
                current = []
            if starts:
                current, first = [line], n
            elif current:
                current.append(line)
        if current:
            out.append(_Entry(first, tuple(current)))
    return out


def _line_spans(p: Parsed) -> list[tuple[int, int]]:
    return [(ln.start, ln.end + len(ln.eol)) for ln in p.lines]


def _strip_new_entries(p: Parsed, text: str, base_log: Counter[str]
                       ) -> tuple[str, list[_Entry]]:
    """`text` (the side's text, same line layout as `p`) without the log entries the base
    does not have, and those entries in file order."""
    budget = Counter(base_log)
    new: list[_Entry] = []
    drop: set[int] = set()
    for e in _entries(p):
        if budget[e.ident] > 0:
            budget[e.ident] -= 1
            continue
        new.append(e)
        drop.update(range(e.first, e.first + len(e.lines)))
    if not drop:
        return text, new
    spans = _line_spans(p)
    kept = "".join(text[s:e] for n, (s, e) in enumerate(spans) if n not in drop)
    return kept, new


def _placed(existing: Sequence[_Entry], new: Sequence[_Entry]) -> list[_Entry | None]:
    """The log in its final order: None stands for each existing entry, in place; a timed new
    entry goes before the first entry that is later, an untimed one after its predecessor.

    One pass, inserting into a linked list. The first entry later than a time is always a
    running maximum (later than every entry before it); those maxima, kept in order, are
    found by bisection, and an insert never changes which other entries are maxima.
    """
    entries = list(existing)
    chain = _Chain(len(entries))
    top_times: list[str] = []  # the running maxima's times, increasing, in log order
    top_nodes: list[int] = []
    first_of: dict[str, int] = {}
    for n, e in enumerate(entries):
        first_of.setdefault(e.ident, n)
        if (e.time or "") > (top_times[-1] if top_times else ""):
            top_times.append(e.time or "")
            top_nodes.append(n)
    prev: str | None = None
    for e in new:
        if e.ident in first_of:
            prev = e.ident
            continue
        node = len(entries)
        entries.append(e)
        first_of[e.ident] = node
        when = e.time
        if when is None:
            chain.insert_after(node, first_of.get(prev, _END) if prev is not None else _END)
        else:
            k = bisect.bisect_right(top_times, when)
            chain.insert_before(node, top_nodes[k] if k < len(top_nodes) else _END)
            if when > (top_times[k - 1] if k else ""):
                top_times.insert(k, when)
                top_nodes.insert(k, node)
        prev = e.ident
    return [entries[n] if n >= len(existing) else None for n in chain.walk()]


_HEAD, _END = -1, -2


class _Chain:
    """Nodes 0…n-1 in a doubly linked list, for inserts anywhere in O(1)."""

    def __init__(self, n: int) -> None:
        order = [_HEAD, *range(n), _END]
        self._next = dict(itertools.pairwise(order))
        self._prev = {b: a for a, b in itertools.pairwise(order)}

    def insert_before(self, node: int, at: int) -> None:
        self._link(self._prev[at], node, at)

    def insert_after(self, node: int, at: int) -> None:
        if at == _END:
            self.insert_before(node, _END)
        else:
            self._link(at, node, self._next[at])

    def _link(self, prev: int, node: int, nxt: int) -> None:
        self._next[prev], self._next[node] = node, nxt
        self._prev[nxt], self._prev[node] = node, prev

    def walk(self) -> list[int]:
        out: list[int] = []
        node = self._next[_HEAD]
        while node != _END:
            out.append(node)
            node = self._next[node]
        return out


def _add_entries(data: bytes, new: Sequence[_Entry], path: str) -> bytes:
    if not new:
        return data
    p = parse_cached(data, path)
    existing = _entries(p)
    if not existing:
        fresh = _placed([], new)
        return apply(data, Edit(log=tuple(_text_of(e) for e in fresh if e is not None)), path).data
    nl = p.task.newline
    spans = _line_spans(p)
    before: dict[int, list[str]] = {}  # line index → new lines to insert before it
    pending: list[str] = []
    k = 0
    for e in _placed(existing, new):
        if e is not None:
            pending.extend(e.lines)
            continue
        if pending:
            before.setdefault(existing[k].first, []).extend(pending)
            pending = []
        k += 1
    at_end = pending
    out: list[str] = []
    last = existing[-1]
    end_line = last.first + len(last.lines) - 1
    for n, (start, end) in enumerate(spans):
        out.extend(line + nl for line in before.get(n, ()))
        chunk = p.text[start:end]
        if n == end_line and at_end:
            if not p.lines[n].eol:
                chunk += nl
            chunk += nl.join(at_end) + (nl if p.lines[n].eol else "")
        out.append(chunk)
    return "".join(out).encode("utf-8")


def _text_of(e: _Entry) -> str:
    first = _ENTRY_RE.sub("", e.lines[0], count=1)
    return " ".join([first.strip(), *(line.strip() for line in e.lines[1:])])


# --------------------------------------------------------------------------- taskbot's re-apply


def reapply(base: bytes | None, branch: bytes, mine: bytes, edit: Edit, path: str) -> Applied:
    """taskbot's commit (`mine`, made on `base`) carried onto the branch's newer version.

    The edit's ticks count occurrences in `base`, the version the run read. A criterion
    taskbot ticks that the branch edited, re-checked or removed is the person's to decide:
    it comes back in `missing` and nothing is merged (so is every tick when `base` is
    unknown: which line ran cannot be told). Otherwise the two merge like any other pair of
    sides; should that leave conflicts (or not tick exactly those criteria), taskbot's
    `Edit` is applied to the branch's version instead, as a plain edit.
    """
    if base is None:
        return Applied(branch, (), tuple(normalise(t.identity) for t in edit.ticks))
    on_branch = apply(branch, Edit(ticks=edit.ticks), path, base)
    if on_branch.missing:
        return Applied(branch, (), on_branch.missing)
    merged = merge(base, branch, mine, path)
    if merged.conflicts == 0 and _same_ticks(on_branch.data, merged.data, branch, path):
        return Applied(merged.data, on_branch.ticked, ())
    return apply(branch, edit, path, base)


def _same_ticks(want: bytes, merged: bytes, branch: bytes, path: str) -> bool:
    """Whether `merged` has the branch's criteria checked exactly as `want` (the branch with
    taskbot's ticks) has them."""
    try:
        pw, pm = parse_cached(want, path), parse_cached(merged, path)
        where = follow(parse_cached(branch, path), pm)
    except TaskFileError:
        return False
    return all(i in where and pm.task.criteria[where[i]].checked == c.checked
               for i, c in enumerate(pw.task.criteria))
