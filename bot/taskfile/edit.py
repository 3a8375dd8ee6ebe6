"""Task files: `Edit` → bytes, byte-exact.

Every edit is a splice into the original text at offsets computed from the parse:
a box's single space becomes ``x``, a frontmatter value's span is replaced, and
whole new lines are inserted at one point. Nothing else in the file changes
(BOM, line endings, trailing spaces, comments, key order, quoting). An edit that
inserts or replaces text is parsed again and checked; one that would not read back
as intended raises `TaskFileError` instead of producing a damaged file.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from bot.atomic import write_atomic
from bot.errors import TaskFileError
from bot.taskfile.parse import (
    BOM,
    DATE_RE,
    KEY_RE,
    LINE_BREAK_RE,
    Frontmatter,
    Parsed,
    fail,
    normalise,
    parse_cached,
)

__all__ = ["Applied", "Edit", "apply", "write"]


@dataclass(frozen=True)
class Edit:
    ticks: tuple[str, ...] = ()
    updated: str | None = None
    log: tuple[str, ...] = ()
    frontmatter: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Applied:
    data: bytes
    ticked: tuple[str, ...]
    missing: tuple[str, ...]


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


def _plain_ok(key: str, value: str) -> bool:
    """Whether `value` written unquoted reads back as the same text."""
    if not value or value != value.strip() or "#" in value or "\t" in value:
        return False
    try:
        got = yaml.safe_load(f"{key}: {value}\n")
    except yaml.YAMLError:
        return False
    return isinstance(got, dict) and set(got) == {key} and _same(got[key], value)


def _same(parsed: object, value: str) -> bool:
    return parsed is not None and not isinstance(parsed, bool | list | dict) and str(parsed) == value


def _render(key: str, value: str, style: str | None) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or not _plain_ok(key, value):
        return json.dumps(value, ensure_ascii=False)
    return value


def _scalar_spans(body: str) -> dict[int, int]:
    """end offset → start offset of every scalar token (tags and anchors excluded)."""
    spans: dict[int, int] = {}
    for tok in yaml.scan(body, Loader=yaml.SafeLoader):
        if isinstance(tok, yaml.ScalarToken):
            spans[tok.end_mark.index] = tok.start_mark.index
    return spans


def _frontmatter_splices(p: Parsed, pairs: Mapping[str, str]) -> list[_Splice]:
    nl = p.task.newline
    if not pairs:
        return []
    for key, value in pairs.items():
        if not KEY_RE.fullmatch(key):
            raise ValueError(f"frontmatter key {key!r} is not a simple key")
        if LINE_BREAK_RE.search(value) is not None:
            raise ValueError(f"frontmatter value for {key!r} contains a line break")
    if p.fm is None:
        at = 1 if p.bom else 0
        body = "".join(f"{k}: {_render(k, v, None)}{nl}" for k, v in pairs.items())
        return [_Splice(at, at, f"---{nl}{body}---{nl}")]

    fm = p.fm
    node = fm.node
    splices: list[_Splice] = []
    new_lines: list[str] = []
    existing: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    if isinstance(node, yaml.MappingNode):
        for k_node, v_node in node.value:
            if isinstance(k_node, yaml.ScalarNode) and isinstance(k_node.value, str):
                existing[k_node.value] = (k_node, v_node)  # the last one wins, as in PyYAML
    spans = _scalar_spans(fm.body) if existing else {}
    indent = " " * node.start_mark.column if isinstance(node, yaml.MappingNode) else ""
    for key, value in pairs.items():
        if key not in existing:
            new_lines.append(f"{indent}{key}: {_render(key, value, None)}{nl}")
            continue
        _k_node, v_node = existing[key]
        splices.append(_replace_value(fm, v_node, key, value, spans))
    if new_lines:
        at = p.lines[fm.close_line].start
        splices.append(_Splice(at, at, "".join(new_lines)))
    return splices


def _replace_value(
    fm: Frontmatter, v_node: yaml.Node, key: str, value: str, spans: Mapping[int, int]
) -> _Splice:
    base = fm.body_start
    start, end = v_node.start_mark.index, v_node.end_mark.index
    style = v_node.style if isinstance(v_node, yaml.ScalarNode) else None
    if start == end:  # `updated:` with nothing after it
        return _Splice(base + start, base + end, " " + _render(key, value, None))
    if isinstance(v_node, yaml.ScalarNode) and style in (None, "'", '"') and end in spans:
        start = spans[end]  # keep any tag or anchor in front of the scalar
        return _Splice(base + start, base + end, _render(key, value, style))
    # A block scalar or a collection: replace it, keep the line breaks it ends with.
    old = fm.body[start:end]
    trail = old[len(old.rstrip("\r\n")) :]
    return _Splice(base + start, base + end, _render(key, value, None) + trail)


def _log_splice(p: Parsed, entries: Sequence[str], loose: bool) -> _Splice:
    nl = p.task.newline
    items = nl.join(entries)
    text, lines = p.text, p.lines
    if p.log_sections:
        sec = p.log_sections[-1]
        last = sec.start
        for n in range(sec.start, min(sec.end, len(lines))):
            if text[lines[n].start : lines[n].end].strip():
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
    last_blank = not text[ln.start : ln.end].strip(BOM + " \t")
    if ln.eol:
        return _Splice(len(text), len(text), ("" if last_blank else nl) + block + nl)
    return _Splice(len(text), len(text), nl + ("" if last_blank else nl) + block)


def _log_entry(text: str) -> str:
    one = " ".join(LINE_BREAK_RE.split(text)).strip()
    return f"- {one}" if one else "-"


def apply(data: bytes, edit: Edit, path: str) -> Applied:
    """Apply `edit` to the task file `data`; only the edited bytes change."""
    data = bytes(data)
    p = parse_cached(data, path)
    task = p.task

    splices: list[_Splice] = []
    ticked: list[str] = []
    missing: list[str] = []
    used: set[int] = set()
    for want in edit.ticks:
        ident = normalise(want)
        crit = next(
            (c for c in task.criteria if not c.checked and c.index not in used and c.identity == ident),
            None,
        )
        if crit is None:
            missing.append(ident)
            continue
        used.add(crit.index)
        at = p.lines[crit.line].start + crit.col + 1
        if p.text[at] != " ":
            raise AssertionError(f"{path}: no open box at line {crit.line + 1}")
        splices.append(_Splice(at, at + 1, "x"))
        ticked.append(ident)

    pairs: dict[str, str] = {}
    if edit.updated is not None:
        if not DATE_RE.fullmatch(edit.updated):
            raise ValueError(f"updated must be YYYY-MM-DD, not {edit.updated!r}")
        pairs["updated"] = edit.updated
    for key, value in edit.frontmatter:
        pairs[key] = value
    splices.extend(_frontmatter_splices(p, pairs))

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
        if not _same(after.frontmatter.get(key), value):
            return f"frontmatter {key!r} would not read back as {value!r}"
    want_log = old.progress_log + tuple(e[1:].strip() for e in entries)
    if after.progress_log != want_log:
        return "the new Progress Log lines would not read back as list items"
    return ""


# --------------------------------------------------------------------------- writing


def write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file atomically (temp file in the same directory + rename), keeping its mode."""
    p = os.fspath(path)
    try:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            mode = 0o644
        else:
            if stat.S_ISLNK(st.st_mode):
                raise fail(p, "is a symlink; not written")
            if not stat.S_ISREG(st.st_mode):
                raise fail(p, "is not a regular file; not written")
            mode = stat.S_IMODE(st.st_mode)
        write_atomic(p, data, mode)
    except OSError as e:
        raise fail(p, f"cannot write: {e.strerror or e}") from None
