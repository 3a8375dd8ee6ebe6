"""Property tests for bot.taskfile: generated task files, edits compared byte for byte.

Each generated file comes with its model (which lines are criteria, where the
`updated:` line and the end of the Progress Log are), so every edit is checked
against the exact bytes the model predicts, and against the weaker shape rules
(one byte changed, one insertion point) that hold whatever the model says.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import taskfile as tf
from bot.taskfile import Edit

DATE = "2026-11-26"
PATH = "tasks/active/TASK-077.md"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Expect:
    line: int
    col: int
    checked: bool
    raw: str
    depth: int
    group: str

    @property
    def identity(self) -> str:
        return " ".join(self.raw.split())


@dataclass
class Doc:
    lines: list[str]
    nl: str
    bom: bool
    final_nl: bool
    criteria: list[Expect] = field(default_factory=list)
    fm: tuple[int, int] | None = None  # (open line, close line)
    updated_line: int | None = None
    updated_style: str = "absent"
    updated_suffix: str = ""
    log_last: int | None = None  # last non-blank line of the (last) Progress Log section
    log: list[str] = field(default_factory=list)

    def render(self, lines: list[str] | None = None) -> bytes:
        ls = self.lines if lines is None else lines
        text = self.nl.join(ls) + (self.nl if self.final_nl else "")
        return (("\ufeff" if self.bom else "") + text).encode()

    @property
    def data(self) -> bytes:
        return self.render()

    # The exact bytes each edit must give.
    def ticked(self, k: int) -> bytes:
        c = self.criteria[k]
        lines = list(self.lines)
        line = lines[c.line]
        lines[c.line] = line[: c.col + 1] + "x" + line[c.col + 2 :]
        return self.render(lines)

    def stamped(self, date: str) -> bytes:
        lines = list(self.lines)
        value = {"plain": date, "double": f'"{date}"', "single": f"'{date}'", "empty": date}
        if self.updated_line is not None:
            lines[self.updated_line] = f"updated: {value[self.updated_style]}{self.updated_suffix}"
        elif self.fm is not None:
            lines.insert(self.fm[1], f"updated: {date}")
        else:
            lines[0:0] = ["---", f"updated: {date}", "---"]
        return self.render(lines)

    def logged(self, entries: list[str]) -> bytes:
        lines = list(self.lines)
        new = [f"- {e}" for e in entries]
        if self.log_last is not None:
            lines[self.log_last + 1 : self.log_last + 1] = new
        else:
            lines += ["", "## Progress Log", "", *new]
        return self.render(lines)


LETTERS = string.ascii_letters
# Few draws per word keeps generation cheap; the vocabulary carries the odd characters.
VOCAB = [
    "Build",
    "push",
    "FFL",
    "0.1.18",
    "192.168.7.21:5000",
    "`curl -k https://x/v2/`",
    "*em*",
    "a_b",
    "über",
    "✓",
    "→",
    "東京",
    '"quoted"',
    "it's",
    "(x)",
    "#12",
    "x  y",
    "-",
    "[ ]",
]
words = st.builds(
    lambda first, rest, tail: " ".join([first + tail, *rest]),
    st.sampled_from(LETTERS),
    st.lists(st.sampled_from(VOCAB), max_size=4),
    st.text(alphabet=LETTERS + string.digits + "é.-_", max_size=6),
)
plain_words = st.builds(
    lambda first, rest: " ".join([first, *rest]),
    st.sampled_from(["Build", "Push", "Note", "Phase", "x"]),
    st.lists(st.sampled_from(["one", "two", "3", "FFL", "v0", "Ab"]), max_size=3),
)
item_texts = st.one_of(st.sampled_from(["Build all", "Push it", "Build  all"]), words)
markers = st.sampled_from(["-", "*", "+", "1.", "1)"])
boxes = st.sampled_from([" ", " ", " ", "x", "X", "~", "-", "/"])
annots = st.sampled_from(
    ["", "", " <!-- taskbot: verify url=https://x.lab/healthz -->", ' <!--taskbot: shell cmd="a b"-->']
)
trailing = st.sampled_from(["", "", "  ", "\t"])


@st.composite
def ac_list(draw: st.DrawFn) -> list[tuple[int, str, str, str]]:
    """(depth, marker, box, text) items of one list, nesting at most one level per step."""
    n = draw(st.integers(1, 6))
    out: list[tuple[int, str, str, str]] = []
    depth = 0
    for _ in range(n):
        depth = draw(st.integers(0, depth + 1)) if out else 0
        text = draw(item_texts) + draw(annots) + draw(trailing)
        out.append((min(depth, 2), draw(markers), draw(boxes), text))
        depth = min(depth, 2)
    return out


NOISE = [
    ["```", "- [ ] in a fence", "```"],
    ["~~~markdown", "* [ ] in a tilde fence", "- [x] done in fence", "~~~"],
    ["<!--", "- [ ] in a comment", "-->"],
    ["> - [ ] in a quote", ">", "> > - [ ] deeper"],
    ["> [!todo] callout", "> - [ ] callout item"],
    ["Some paragraph text."],
    ["<!-- AC:BEGIN -->"],
]


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    doc = Doc(lines=[], nl=nl, bom=draw(st.booleans()), final_nl=draw(st.booleans()))
    lines = doc.lines

    fm_kind = draw(st.sampled_from(["none", "empty", "keys", "keys", "keys"]))
    if fm_kind != "none":
        lines.append("---")
        if fm_kind == "keys":
            keys = ["id: TASK-077", "title: Generated task", "labels: [a, b]", "# a comment"]
            style = draw(st.sampled_from(["plain", "double", "single", "empty", "absent"]))
            suffix = draw(st.sampled_from(["", "", "  # touched"])) if style != "empty" else ""
            value = {"plain": "2025-10-17", "double": '"2025-10-17"', "single": "'2025-10-17'"}
            body = list(keys)
            if style != "absent":
                at = draw(st.integers(0, len(body)))
                body.insert(at, "updated:" if style == "empty" else f"updated: {value[style]}")
                doc.updated_line = 1 + at
                doc.updated_style = style
                doc.updated_suffix = suffix
                if suffix:
                    body[at] += suffix
            lines.extend(body)
        doc.fm = (0, len(lines))
        lines.append("---")

    if draw(st.booleans()):
        lines.append(f"# {draw(plain_words)}")
        lines.append("")

    sections = draw(st.permutations(["ac", "notes", "log", "deps"]))
    sections = [s for s in sections if s in ("ac", "notes") or draw(st.booleans())]
    for name in sections:
        if name == "ac":
            _ac_section(draw, doc)
        elif name == "notes":
            lines.extend(["## Notes", "", "- [ ] not a criterion", "text"])
        elif name == "deps":
            lines.extend(["## Dependencies", "- **TASK-001**: must be completed first"])
        else:
            _log_section(draw, doc, last=name == sections[-1])
        if name != sections[-1]:
            lines.extend([""] * draw(st.integers(1, 2)))
    return doc


def _ac_section(draw: st.DrawFn, doc: Doc) -> None:
    lines = doc.lines
    lines.append(draw(st.sampled_from(["## Acceptance Criteria", "## acceptance criteria:"])))
    group = ""
    kinds = draw(st.lists(st.sampled_from(["list", "noise", "noise", "heading"]), max_size=4))
    for kind in ["list", *kinds]:
        lines.append("")
        if kind == "heading":
            group = draw(plain_words)
            lines.append(f"### {group}")
        elif kind == "noise":
            lines.extend(draw(st.sampled_from(NOISE)))
        else:
            widths: list[int] = []  # content offset of each open ancestor
            for depth, marker, box, text in draw(ac_list()):
                del widths[depth:]
                indent = sum(widths)
                line = " " * indent + f"{marker} [{box}] {text}"
                widths.append(len(marker) + 1)
                if box in " xX":
                    raw = text.strip()
                    col = indent + len(marker) + 1
                    doc.criteria.append(Expect(len(lines), col, box != " ", raw, depth, group))
                lines.append(line)
    lines.append("")
    lines.append("End of criteria.")


def _log_section(draw: st.DrawFn, doc: Doc, *, last: bool) -> None:
    lines = doc.lines
    lines.append("## Progress Log")
    doc.log_last = len(lines) - 1
    if draw(st.booleans()):
        lines.append("")
    for _ in range(draw(st.integers(0, 3))):
        entry = f"2025-10-17 14:30: {draw(plain_words)}"
        doc.log.append(entry)
        lines.append(f"- {entry}")
        doc.log_last = len(lines) - 1
    if not last:  # blank lines before the next heading stay after the new entries
        lines.extend([""] * draw(st.integers(0, 2)))


def differing(a: bytes, b: bytes) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def one_insertion(old: bytes, new: bytes) -> int:
    """The offset where `new` is `old` with bytes inserted at one point (asserts it is)."""
    assert len(new) > len(old)
    i = 0
    while i < len(old) and old[i] == new[i]:
        i += 1
    assert new[i + len(new) - len(old) :] == old[i:]
    return i


def check_parse(doc: Doc, task: tf.Task) -> None:
    got = [(c.line, c.col, c.checked, c.raw, c.depth, c.group) for c in task.criteria]
    want = [(e.line, e.col, e.checked, e.raw, e.depth, e.group) for e in doc.criteria]
    assert got == want
    assert task.newline == doc.nl
    assert task.has_frontmatter == (doc.fm is not None)
    assert task.progress_log == tuple(doc.log)


@SETTINGS
@given(doc=documents())
def test_parse_then_tick_each_criterion_alone(doc: Doc) -> None:
    before = tf.parse(doc.data, PATH)
    check_parse(doc, before)
    assert before.id == "TASK-077"  # from the frontmatter, else from the file name
    if doc.updated_style in ("plain", "double", "single"):
        assert str(before.frontmatter["updated"]) == "2025-10-17"
    open_ones = [c for c in before.criteria if not c.checked]
    for pick in open_ones:
        # By identity and occurrence: that very criterion, whatever other lines read the same.
        target = pick
        applied = tf.apply(doc.data, Edit(ticks=tf.ticks_for(before.criteria, [pick.index])), PATH)
        assert applied.ticked == (pick.identity,) and applied.missing == ()
        assert applied.data == doc.ticked(target.index)
        (pos,) = differing(doc.data, applied.data)
        assert doc.data[pos : pos + 1] == b" " and applied.data[pos : pos + 1] == b"x"
        after = tf.parse(applied.data, PATH)
        assert [c.identity for c in after.criteria] == [c.identity for c in before.criteria]
        assert [c.checked for c in after.criteria] == [
            c.checked or c.index == target.index for c in before.criteria
        ]
    missing = tf.apply(doc.data, Edit(ticks=(tf.Tick("no such criterion", 0),)), PATH)
    assert missing.missing == ("no such criterion",) and missing.data == doc.data


@SETTINGS
@given(doc=documents(), entries=st.lists(plain_words, min_size=1, max_size=3))
def test_stamp_updated_and_append_log(doc: Doc, entries: list[str]) -> None:
    old = doc.data
    # updated: only the value changes (or one line / a frontmatter block is added).
    applied = tf.apply(old, Edit(updated=DATE), PATH)
    new = applied.data
    assert new == doc.stamped(DATE)
    if doc.updated_style in ("plain", "double", "single"):
        assert doc.updated_line is not None
        before_lines = doc.lines[: doc.updated_line]
        line_start = (3 if doc.bom else 0) + sum(len(ln.encode()) + len(doc.nl) for ln in before_lines)
        value_start = line_start + len("updated: ")
        value_end = line_start + len(doc.lines[doc.updated_line]) - len(doc.updated_suffix)
        diffs = differing(old, new)
        assert diffs
        assert all(value_start <= d < value_end for d in diffs)
    else:
        at = one_insertion(old, new)
        assert DATE in new[at : at + len(new) - len(old)].decode()
    after = tf.parse(new, PATH)
    assert str(after.frontmatter["updated"]) == DATE
    shift = 3 if doc.fm is None else int(doc.updated_line is None)
    assert [(c.line - shift, c.raw, c.checked) for c in after.criteria] == [
        (e.line, e.raw, e.checked) for e in doc.criteria
    ]
    assert after.progress_log == tuple(doc.log)

    # Progress Log: bytes inserted at one point, at the end of the (last) section.
    applied = tf.apply(old, Edit(log=tuple(entries)), PATH)
    assert applied.data == doc.logged(entries)
    at = one_insertion(old, applied.data)
    if doc.log_last is None:
        assert at == len(old)
    after = tf.parse(applied.data, PATH)
    assert after.progress_log == (*doc.log, *entries)
    assert [c.identity for c in after.criteria] == [e.identity for e in doc.criteria]


@SETTINGS
@given(doc=documents(), data=st.data())
def test_all_edits_together(doc: Doc, data: st.DataObject) -> None:
    before = tf.parse(doc.data, PATH)
    pick_some: bool = data.draw(st.booleans())
    if before.criteria and pick_some:
        picked: list[tf.Criterion] = data.draw(st.lists(st.sampled_from(before.criteria)))
    else:  # every open criterion, plus one that does not exist
        picked = list(before.unchecked)
    unknown = not (before.criteria and pick_some)
    ticks = tf.ticks_for(before.criteria, [c.index for c in picked])
    if unknown:
        ticks += (tf.Tick("no such criterion", 0),)
    edit = Edit(ticks=ticks, updated=DATE, log=("did it",), frontmatter=(("status", "completed"),))
    applied = tf.apply(doc.data, edit, PATH)
    after = tf.parse(applied.data, PATH)
    assert str(after.frontmatter["updated"]) == DATE
    assert after.frontmatter["status"] == "completed"
    assert after.progress_log == (*doc.log, "did it")
    assert [c.identity for c in after.criteria] == [c.identity for c in before.criteria]
    # Each tick checks the criterion it names, if open; a checked, repeated or unknown one
    # is missing (never another line with the same text).
    still_open = [c for c in before.criteria if not c.checked]
    expect_checked = {c.index for c in before.criteria if c.checked}
    expect_ticked, expect_missing = [], []
    named = [*(c.index for c in picked), *([None] if unknown else [])]
    for want, index in zip(ticks, named, strict=True):
        hit = next((c for c in still_open if c.index == index), None)
        if hit is None:
            expect_missing.append(want.identity)
        else:
            still_open.remove(hit)
            expect_checked.add(hit.index)
            expect_ticked.append(want.identity)
    assert applied.ticked == tuple(expect_ticked)
    assert applied.missing == tuple(expect_missing)
    assert {c.index for c in after.criteria if c.checked} == expect_checked
    if not still_open:
        assert after.complete == bool(after.criteria)
    # File-level properties survive every edit.
    assert applied.data.startswith(b"\xef\xbb\xbf") == doc.bom
    assert applied.data.endswith(doc.nl.encode()) == doc.data.endswith(doc.nl.encode())
    if doc.nl == "\r\n":
        assert b"\n" not in applied.data.replace(b"\r\n", b"")
    else:
        assert b"\r" not in applied.data
    # The same ticks again tick nothing: each names a criterion that is checked now.
    again = tf.apply(applied.data, Edit(ticks=ticks), PATH)
    assert again.ticked == () and again.data == applied.data
