"""bot.taskfile against the real-world task files of the shared corpus, read in place.

The corpus lives beside the repository (`<repo>/../shared/corpus`, as on the build host
and in CI) or wherever `TASKBOT_CORPUS` points. The files are only ever read; edits are
applied to their bytes in memory and compared byte for byte.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

from bot import taskfile as tf
from bot.errors import TaskFileError
from bot.taskfile import Edit
from tests.kit.edits import only_change

DATE = "2026-11-26"


def _corpus_dir() -> Path:
    env = os.environ.get("TASKBOT_CORPUS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "corpus"


CORPUS = _corpus_dir()
TASKS = CORPUS / "tasks"
# (`MrLesk_Backlog.md/` is a directory: only files count.)
FILES = sorted(p for p in TASKS.rglob("*.md") if p.is_file()) if TASKS.is_dir() else []

pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    not FILES,
    reason=f"task corpus not found at {TASKS} (set TASKBOT_CORPUS to the shared/corpus directory)",
)]

# Frontmatter the README lists as not valid YAML: `reporter: @MrLesk` and `labels: "["a","b"]"`.
REFUSED = {
    "MrLesk_Backlog.md/backlog/completed/back-3 - cli-implement-backlog-init.md",
    "MrLesk_Backlog.md/backlog/completed/back-4.12 - cli-handle-task-id-conflicts-across-branches.md",
    "MrLesk_Backlog.md/backlog/completed/back-4.9 - cli-normalize-task-id-inputs.md",
    "splectrum_splectrum/claude/issues/unassigned/"
    "001-create-bare-for-pearcommand-line-usage-repository-one-pager.md",
    "splectrum_splectrum/claude/issues/unassigned/"
    "004-create-splectrumsrs-documentation-repository-one-pager-archived.md",
    "splectrum_splectrum/claude/issues/unassigned/012-create-initial-org-repo-folder-structure.md",
    "splectrum_splectrum/claude/issues/unassigned/022-create-comprehensive-documentation-"
    "structure-with-organizational-folders-and-placeholder-files.md",
}
OBSIDIAN = "obsidian-tasks-group_obsidian-tasks/resources/sample_vaults/Tasks-Demo"
CRLF_FILE = "splectrum_splectrum/claude/inbox/2025-07-30T04-57-00-000Z_splectrum_universal-dry-run-option.md"
_BREAK = re.compile(rb"\r\n|\r|\n")


def rel(path: Path) -> str:
    return path.relative_to(TASKS).as_posix()


def corpus(name: str) -> Path:
    path = TASKS / name
    assert path.is_file(), f"corpus file missing: {name}"
    return path


def line_starts(data: bytes) -> list[int]:
    return [0] + [m.end() for m in _BREAK.finditer(data)]


def one_insertion(old: bytes, new: bytes) -> tuple[int, bytes]:
    """Where and what: `new` must be `old` with bytes inserted at exactly one point."""
    assert len(new) > len(old)
    i = 0
    while i < len(old) and old[i] == new[i]:
        i += 1
    added = len(new) - len(old)
    assert new[i + added :] == old[i:], "bytes changed at more than one point"
    return i, new[i : i + added]


@functools.cache
def parse_or_none(path: Path) -> tuple[bytes, tf.Task | None]:
    data = tf.read(path)
    try:
        return data, tf.parse(data, str(path))
    except TaskFileError as e:
        msg = str(e)
        assert msg.startswith(f"{path}: ") and "\n" not in msg and len(msg) < 400
        return data, None


# --------------------------------------------------------------------------- every file


@pytest.mark.parametrize("path", [pytest.param(p, id=rel(p)) for p in FILES])
def test_corpus_file(path: Path) -> None:
    data, task = parse_or_none(path)
    if task is None:
        assert rel(path) in REFUSED
        with pytest.raises(TaskFileError):
            tf.apply(data, Edit(updated=DATE), str(path))
        return
    assert rel(path) not in REFUSED
    name = str(path)
    nl = task.newline.encode()
    ends_nl = data.endswith((b"\n", b"\r"))
    starts = line_starts(data)
    assert tf.apply(data, Edit(), name).data == data

    # Ticking each open criterion alone flips exactly its box's one byte.
    for c in task.unchecked:
        applied = tf.apply(data, Edit(ticks=tf.ticks_for(task.criteria, [c.index])), name)
        text_line = data[starts[c.line] :].decode()
        at = starts[c.line] + len(text_line[: c.col + 1].encode())
        assert applied.ticked == (c.identity,)
        assert applied.data == data[:at] + b"x" + data[at + 1 :]

    # Stamping `updated` changes only its value, or adds one line / a frontmatter block.
    applied = tf.apply(data, Edit(updated=DATE), name)
    new = applied.data
    if "updated" in task.frontmatter:
        off, old_part, new_part = only_change(data, new)
        line_start = starts[sum(1 for s in starts[1:] if s <= off)]
        assert data[line_start:].startswith(b"updated:")
        assert off >= line_start + len(b"updated:")
        assert not _BREAK.search(old_part) and not _BREAK.search(new_part)
    elif task.has_frontmatter:
        off, added = one_insertion(data, new)
        assert added == b"updated: " + DATE.encode() + nl
        assert data[off:].split(nl)[0].rstrip() in (b"---", b"...")
    else:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        block = b"---" + nl + b"updated: " + DATE.encode() + nl + b"---" + nl
        assert new == data[:bom] + block + data[bom:]
    after = tf.parse(new, name)
    assert str(after.frontmatter["updated"]) == DATE
    assert [o.identity for o in after.criteria] == [o.identity for o in task.criteria]

    # A Progress Log line is inserted at one point: the end of the last such section.
    entry = f"{DATE} 14:30: Built FFL backend v0.1.18 successfully"
    applied = tf.apply(data, Edit(log=(entry,)), name)
    off, added = one_insertion(data, applied.data)
    logs = [s for s in task.sections if s.title.lower().rstrip(":").strip() == "progress log"]
    if logs:
        line_no = sum(1 for s in starts[1:] if s <= off)
        assert logs[-1].start < line_no <= logs[-1].end
    else:
        assert off == len(data)
        assert b"## Progress Log" in added
    assert applied.data.endswith((b"\n", b"\r")) == ends_nl
    after = tf.parse(applied.data, name)
    assert after.progress_log == (*task.progress_log, entry)

    # All edits together still read back; line endings stay the file's own.
    edit = Edit(
        ticks=tf.ticks_for(task.criteria, [c.index for c in task.unchecked]),
        updated=DATE,
        log=(entry,),
        frontmatter=(("status", "completed"),),
    )
    applied = tf.apply(data, edit, name)
    after = tf.parse(applied.data, name)
    assert after.complete or not task.criteria
    assert applied.missing == ()
    assert after.frontmatter["status"] == "completed"
    assert applied.data.endswith((b"\n", b"\r")) == ends_nl
    if task.newline == "\r\n":
        added_lines = applied.data.count(b"\r\n") - data.count(b"\r\n")
        assert added_lines > 0
        assert applied.data.count(b"\n") - data.count(b"\n") == added_lines


def test_corpus_counts() -> None:
    parsed: list[str] = []
    refused: list[str] = []
    for path in FILES:
        _, task = parse_or_none(path)
        (parsed if task is not None else refused).append(rel(path))
    assert set(refused) == REFUSED
    assert len(parsed) + len(refused) == len(FILES)
    assert len(parsed) >= 100


# --------------------------------------------------------------------------- spot checks


def test_refused_file_names_the_reason() -> None:
    path = corpus("MrLesk_Backlog.md/backlog/completed/back-3 - cli-implement-backlog-init.md")
    with pytest.raises(TaskFileError) as exc:
        tf.load(path)
    assert str(exc.value) == (
        f"{path}: frontmatter is not valid YAML: "
        "found character '@' that cannot start any token (line 5, column 11)"
    )
    assert exc.value.exit_code == 3
    labels = corpus(next(r for r in sorted(REFUSED) if r.startswith("splectrum")))
    with pytest.raises(TaskFileError, match=r"frontmatter is not valid YAML: expected <block end>"):
        tf.load(labels)


def test_crlf_without_final_newline() -> None:
    path = corpus(CRLF_FILE)
    data = tf.read(path)
    assert not data.endswith(b"\n")
    task = tf.parse(data, str(path))
    assert task.newline == "\r\n"
    assert [s.title for s in task.sections if s.title == "Acceptance Criteria"]
    assert len(task.criteria) == 7 and not any(c.checked for c in task.criteria)
    assert task.progress_log == ("Date: Status update",)
    first = task.criteria[0]
    edit = Edit(ticks=tf.ticks_for(task.criteria, [first.index]), updated=DATE, log=("done",))
    applied = tf.apply(data, edit, str(path))
    expected = (
        data.replace(b"- [ ] " + first.raw.encode(), b"- [x] " + first.raw.encode(), 1).replace(
            b"execution record output\r\n---\r\n",
            b"execution record output\r\nupdated: " + DATE.encode() + b"\r\n---\r\n",
            1,
        )
        + b"\r\n- done"
    )
    assert applied.data == expected


def test_quoted_updated_stays_quoted() -> None:
    path = corpus("Wayfinder-Foundry_gdal-mcp/docs/tasks/2001-epistemic-risk-classification.md")
    data = tf.read(path)
    assert b'updated: "2025-10-19"' in data
    applied = tf.apply(data, Edit(updated=DATE), str(path))
    assert applied.data == data.replace(b'updated: "2025-10-19"', f'updated: "{DATE}"'.encode())
    assert tf.parse(applied.data, str(path)).frontmatter["updated"] == DATE


def test_acceptance_heading_without_boxes() -> None:
    task = tf.load(corpus("Wayfinder-Foundry_gdal-mcp/docs/tasks/2004-epistemic-middleware-and-policy.md"))
    assert any(s.title.lower() == "acceptance criteria" for s in task.sections)
    assert task.criteria == ()
    assert not task.complete


def test_nested_checklists() -> None:
    path = corpus("CRJFisher_ariadne/backlog/archive/tasks/task-21 - Add-function-metadata-support.md")
    task = tf.load(path)
    assert len(task.criteria) == 20
    nested = [c for c in task.criteria if c.depth > 0]
    assert len(nested) == 10
    lines = path.read_text(encoding="utf-8").splitlines()
    for c in task.criteria:
        assert lines[c.line][c.col : c.col + 3] in ("[ ]", "[x]", "[X]")
        assert (c.depth > 0) == lines[c.line].startswith((" ", "\t"))
    task = tf.load(
        corpus(
            "CRJFisher_ariadne/backlog/tasks/epics/epic-11-codebase-restructuring/"
            "task-epic-11.100-Verify-definition-collection-in-symbol-resolution.md"
        )
    )
    first = task.criteria[0]
    assert first.text == "All top-level definitions are collected from semantic index:"
    assert sum(c.depth > 0 for c in task.criteria) == 12


def test_boxes_in_fenced_example_are_not_criteria() -> None:
    # The whole task template, "## Acceptance Criteria" and its boxes included, is in a fence.
    task = tf.load(corpus("MrLesk_Backlog.md/backlog/tasks/readme.md"))
    assert task.criteria == ()
    assert task.sections[0].title == "Tasks"
    assert not any("Acceptance" in s.title for s in task.sections)


def test_tilde_mark_is_never_touched() -> None:
    path = corpus(
        "CRJFisher_ariadne/backlog/tasks/epics/epic-11-codebase-restructuring/"
        "task-epic-11.121-Fix-TypeScript-Import-Handler-Spurious-Captures.md"
    )
    data = tf.read(path)
    task = tf.parse(data, str(path))
    assert not any("(18/22" in c.text for c in task.criteria)
    edit = Edit(ticks=tf.ticks_for(task.criteria, [c.index for c in task.unchecked]))
    applied = tf.apply(data, edit, str(path))
    assert b"- [~] All TypeScript tests" in applied.data


def test_empty_frontmatter() -> None:
    task = tf.load(corpus(f"{OBSIDIAN}/Test Data/empty_yaml.md"))
    assert task.has_frontmatter and dict(task.frontmatter) == {}
    assert task.id == "empty_yaml" and task.title == "empty_yaml"


def as_criteria(name: str) -> tf.Task:
    """An Obsidian test note read as if its body sat under an Acceptance Criteria heading.

    The notes have no such section of their own; their own headings are demoted by two
    levels to sub-headings, so every box in them is judged by the criterion rules alone.
    """
    data = tf.read(corpus(name))
    body = b"\n".join(b"##" + ln if ln.startswith(b"#") else ln for ln in data.split(b"\n"))
    return tf.parse(b"## Acceptance Criteria\n" + body, name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("callout.md", []),
        ("callouts_nested_issue_2890_labelled.md", []),
        ("blockquote.md", []),
        (
            "non_tasks.md",  # `%% ... %%` is Obsidian's comment, not Markdown: that box counts
            ["I look like a task but am in an Obsidian (percent) comment"],
        ),
        (
            "list_statuses.md",
            ["#task Todo", "#task Done ✅ 2024-05-26"],
        ),
        (
            "mixed_list_markers.md",
            ["hyphen", "asterisk", "plus", "numbered task with dot", "numbered task with parenthesis"],
        ),
        (
            "zero_width.md",  # the line indented by a zero-width space is paragraph text
            ["#task Task line 1 in 'zero_width' - indented by tab character"],
        ),
    ],
)
def test_obsidian_edge_cases(name: str, expected: list[str]) -> None:
    task = as_criteria(f"{OBSIDIAN}/Test Data/{name}")
    assert [c.text for c in task.criteria] == expected


def test_list_styles_and_capital_x() -> None:
    task = as_criteria(f"{OBSIDIAN}/Test Data/list_styles.md")
    assert len(task.criteria) == 8
    assert [c.col for c in task.criteria] == [2, 2, 2, 2, 2, 2, 3, 3]
    task = as_criteria(f"{OBSIDIAN}/Manual Testing/Custom Task Statuses.md")
    assert [(c.text, c.checked, c.group) for c in task.criteria] == [
        ("#task I am Todo `space`", False, "Standard Markdown statuses"),
        ("#task I am Done `x`", True, "Standard Markdown statuses"),
        ("#task I am Todo `space`", False, "Core Tasks statuses"),
        ("#task I am Done `x`", True, "Core Tasks statuses"),
        ("#task  I am Checked `X`", True, "Selection of custom Tasks statuses"),
    ]
