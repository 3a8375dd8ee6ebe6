"""Task files: `Edit` → bytes, byte-exact.

Every edit is a splice into the original text at offsets computed from the parse:
a box's single space becomes ``x``, frontmatter values are set by `bot.yamledit`
(the one YAML scalar editor), and whole new lines are inserted at one point. Nothing else in the file changes
(BOM, line endings, trailing spaces, comments, key order, quoting). An edit that
inserts or replaces text is parsed again and checked; one that would not read back
as intended raises `TaskFileError` instead of producing a damaged file.

A tick names the criterion that ran by its identity and occurrence in the version of the
file the run read (`base`), never by its text alone: in a file changed since, it lands on
the criterion that line became (`bot.taskfile.follow`), or nowhere when that line was
edited, re-checked or removed — never on another line that reads the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from bot import yamledit
from bot.errors import TaskFileError
from bot.taskfile.follow import follow
from bot.taskfile.model import Applied, Criterion, Edit, Tick, normalise, occurrences
from bot.taskfile.parse import parse_cached
from bot.taskfile.parsed import Parsed
from bot.taskfile.save import write
from bot.taskfile.source import DATE_RE, LINE_BREAK_RE, blank, fail, line_text

__all__ = ["Applied", "Edit", "apply", "write"]


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    new: str


def _splice(text: str, splices: Sequence[_Splice]) -> str:
    ordered = sorted(splices, key=lambda s: (s.start, s.end))
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise AssertionError(f"overlapping edits at {a.start}..{a.end} and {b.start}")
    out: list[str] = []
    pos = 0
    for s in ordered:
        out.append(text[pos : s.start])
        out.append(s.new)
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def _frontmatter_splices(p: Parsed, path: str, pairs: Mapping[str, str]) -> list[_Splice]:
    """The frontmatter with `pairs` set, by the one YAML scalar editor."""
    if not pairs:
        return []
    nl = p.task.newline
    fm = p.fm
    body = fm.body if fm is not None else ""
    try:
        # The parse's own loader, so the editor sees the nodes the parse saw.
        new = yamledit.set_values(yamledit.YamlFile(body, path, yaml.SafeLoader), pairs, nl)
    except yamledit.YamlEditError as e:
        raise fail(path, f"cannot apply the edit safely: {str(e).removeprefix(f'{path}: ')}") from None
    if fm is None:
        at = 1 if p.bom else 0
        return [_Splice(at, at, f"---{nl}{new}---{nl}")]
    return [_Splice(fm.body_start, fm.body_start + len(body), new)]


def _log_splice(p: Parsed, entries: Sequence[str], loose: bool) -> _Splice:
    nl = p.task.newline
    items = nl.join(entries)
    text, lines = p.text, p.lines
    if p.log_sections:
        sec = p.log_sections[-1]
        last = sec.start
        for n in range(sec.start, min(sec.end, len(lines))):
            if not blank(line_text(text, lines, n)):
                last = n
        ln = lines[last]
        gap = nl if loose else ""
        if ln.eol:
            return _Splice(ln.end + len(ln.eol), ln.end + len(ln.eol), f"{gap}{items}{nl}")
        return _Splice(ln.end, ln.end, f"{nl}{gap}{items}")
    block = f"## Progress Log{nl}{nl}{items}"
    if not lines:
        return _Splice(0, 0, block + nl)
    ln = lines[-1]
    last_blank = blank(line_text(text, lines, len(lines) - 1))
    if ln.eol:
        return _Splice(len(text), len(text), ("" if last_blank else nl) + block + nl)
    return _Splice(len(text), len(text), nl + ("" if last_blank else nl) + block)


def _log_entry(text: str) -> str:
    one = " ".join(LINE_BREAK_RE.split(text)).strip()
    return f"- {one}" if one else "-"


def _targets(p: Parsed, ref: Parsed, ticks: Sequence[Tick]) -> list[Criterion | None]:
    """For each tick, the open criterion of `p` it lands on (None: none, or asked twice)."""
    if not ticks:
        return []
    counted = occurrences(ref.task.criteria)
    by_key = {(c.identity, counted[c.index]): c.index for c in ref.task.criteria}
    moved = follow(ref, p)
    out: list[Criterion | None] = []
    used: set[int] = set()
    for tick in ticks:
        ran = by_key.get((normalise(tick.identity), tick.occurrence))
        index = moved.get(ran) if ran is not None else None
        crit = p.task.criteria[index] if index is not None else None
        if crit is None or crit.checked or crit.index in used:
            out.append(None)
            continue
        used.add(crit.index)
        out.append(crit)
    return out


def apply(data: bytes, edit: Edit, path: str, base: bytes | None = None) -> Applied:
    """Apply `edit` to the task file `data`; only the edited bytes change. The ticks count
    occurrences in `base`, the version the run read (default: `data` itself)."""
    data = bytes(data)
    p = parse_cached(data, path)
    ref = p if base is None or bytes(base) == data else parse_cached(bytes(base), path)

    splices: list[_Splice] = []
    ticked: list[str] = []
    missing: list[str] = []
    used: set[int] = set()
    for tick, crit in zip(edit.ticks, _targets(p, ref, edit.ticks), strict=True):
        if crit is None:
            missing.append(normalise(tick.identity))
            continue
        used.add(crit.index)
        at = p.lines[crit.line].start + crit.col + 1
        if p.text[at] != " ":
            raise AssertionError(f"{path}: no open box at line {crit.line + 1}")
        splices.append(_Splice(at, at + 1, "x"))
        ticked.append(crit.identity)

    pairs: dict[str, str] = {}
    if edit.updated is not None:
        if not DATE_RE.fullmatch(edit.updated):
            raise ValueError(f"updated must be YYYY-MM-DD, not {edit.updated!r}")
        pairs["updated"] = edit.updated
    for key, value in edit.frontmatter:
        pairs[key] = value
    splices.extend(_frontmatter_splices(p, path, pairs))

    entries = [_log_entry(t) for t in edit.log]
    if not pairs and not entries:
        # Ticks alone need no re-parse: a box's space turning into an `x` cannot change the
        # block structure (every block start is decided before the box; `[x]` followed by a
        # space or the line end is no link reference definition), so the criteria stay the
        # same, with exactly these now checked.
        new = _splice(p.text, splices).encode("utf-8") if splices else data
        return Applied(new, tuple(ticked), tuple(missing))
    attempts = (False, True) if entries else (False,)
    problem = ""
    for loose in attempts:
        todo = [*splices, _log_splice(p, entries, loose)] if entries else splices
        new_text = _splice(p.text, todo) if todo else p.text
        new_data = new_text.encode("utf-8")
        problem = _check(new_data, path=path, before=p, ticked=used, pairs=pairs, entries=entries)
        if not problem:
            return Applied(new_data, tuple(ticked), tuple(missing))
    raise fail(path, f"cannot apply the edit safely: {problem}")


def _check(
    data: bytes,
    *,
    path: str,
    before: Parsed,
    ticked: set[int],
    pairs: Mapping[str, str],
    entries: Sequence[str],
) -> str:
    """Why the edited file does not read back as intended ("" when it does)."""
    try:
        after = parse_cached(data, path).task
    except TaskFileError as e:
        return str(e).removeprefix(f"{path}: ")
    old = before.task
    if len(after.criteria) != len(old.criteria):
        return "the number of criteria would change"
    for a, b in zip(old.criteria, after.criteria, strict=True):
        if a.identity != b.identity or b.checked != (a.checked or a.index in ticked):
            return f"criterion {a.index + 1} would not read back"
    for key, value in pairs.items():
        if not yamledit.reads_as_text(after.frontmatter.get(key), value):
            return f"frontmatter {key!r} would not read back as {value!r}"
    want_log = old.progress_log + tuple(e[1:].strip() for e in entries)
    if after.progress_log != want_log:
        return "the new Progress Log lines would not read back as list items"
    return ""
