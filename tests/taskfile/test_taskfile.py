"""Unit tests for bot.taskfile: the task-file grammar and byte-exact edits (SPEC §1, §2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot import taskfile as tf
from bot.errors import TaskFileError
from bot.taskfile import Edit, Tick
from tests.kit.edits import only_change

DATE = "2026-11-26"

SPEC_EXAMPLE = """\
---
id: TASK-001
title: Release FFL 0.1.18
priority: high            # critical | high | medium | low
status: active
labels: [builds, registry, deployment, flux]
created: 2025-10-15
updated: 2025-10-17
---
# TASK-001: Release FFL 0.1.18

## Acceptance Criteria
- [ ] Build all FFL containers with version 0.1.18
- [ ] Push all FFL images to registry 192.168.7.21:5000
- [ ] Update ffl HelmRelease in beckerkube to version 0.1.18
- [ ] Smoke test <!-- taskbot: verify url=https://ffl.lab/healthz -->
- [x] Write release notes

## Dependencies
- TASK-000

## Progress Log
- 2025-10-17 14:30: Built FFL backend v0.1.18 successfully
"""


def parse(text: str | bytes, path: str = "tasks/TASK-9.md") -> tf.Task:
    data = text.encode() if isinstance(text, str) else text
    return tf.parse(data, path)


def apply(text: str | bytes, edit: Edit, path: str = "tasks/TASK-9.md") -> tf.Applied:
    data = text.encode() if isinstance(text, str) else text
    return tf.apply(data, edit, path)


def edited(text: str, edit: Edit) -> str:
    return apply(text, edit).data.decode()


def identities(task: tf.Task) -> list[str]:
    return [c.identity for c in task.criteria]


# --------------------------------------------------------------------------- parsing


def test_spec_example_parses() -> None:
    t = parse(SPEC_EXAMPLE)
    assert t.id == "TASK-001"
    assert t.title == "Release FFL 0.1.18"
    assert t.has_frontmatter
    assert t.frontmatter["priority"] == "high"
    assert t.frontmatter["labels"] == ["builds", "registry", "deployment", "flux"]
    assert str(t.frontmatter["updated"]) == "2025-10-17"
    assert [c.text for c in t.criteria] == [
        "Build all FFL containers with version 0.1.18",
        "Push all FFL images to registry 192.168.7.21:5000",
        "Update ffl HelmRelease in beckerkube to version 0.1.18",
        "Smoke test",
        "Write release notes",
    ]
    assert [c.checked for c in t.criteria] == [False, False, False, False, True]
    assert [c.index for c in t.criteria] == [0, 1, 2, 3, 4]
    assert [c.line for c in t.criteria] == [12, 13, 14, 15, 16]
    assert all(c.col == 2 and c.depth == 0 and c.group == "" for c in t.criteria)
    smoke = t.criteria[3]
    assert smoke.annotation == "verify url=https://ffl.lab/healthz"
    assert smoke.raw == "Smoke test <!-- taskbot: verify url=https://ffl.lab/healthz -->"
    assert smoke.identity == smoke.raw
    assert t.dependencies == ("TASK-000",)
    assert t.progress_log == ("2025-10-17 14:30: Built FFL backend v0.1.18 successfully",)
    assert [(s.title, s.level, s.start, s.end) for s in t.sections] == [
        ("TASK-001: Release FFL 0.1.18", 1, 9, 23),
        ("Acceptance Criteria", 2, 11, 18),
        ("Dependencies", 2, 18, 21),
        ("Progress Log", 2, 21, 23),
    ]
    assert t.newline == "\n"
    assert len(t.unchecked) == 4
    assert not t.complete


def test_frontmatter_is_read_only() -> None:
    t = parse(SPEC_EXAMPLE)
    with pytest.raises(TypeError):
        t.frontmatter["id"] = "X"  # type: ignore[index]


def test_parse_results_do_not_share_mutable_frontmatter() -> None:
    first = parse(SPEC_EXAMPLE)
    first.frontmatter["labels"].append("mutated")
    again = tf.parse(bytearray(SPEC_EXAMPLE.encode()), "tasks/TASK-9.md")  # type: ignore[arg-type]
    assert again.frontmatter["labels"] == ["builds", "registry", "deployment", "flux"]
    assert again == parse(SPEC_EXAMPLE)


def test_id_and_title_fallbacks() -> None:
    t = parse("# Heading *with* `code`\n\n## Acceptance Criteria\n- [ ] a\n", "x/TASK-042.md")
    assert t.id == "TASK-042"
    assert t.title == "Heading with code"
    assert not t.has_frontmatter
    assert t.frontmatter == {}
    t = parse("plain text only\n", "dir/name with spaces.md")
    assert t.id == "name with spaces"
    assert t.title == "name with spaces"
    t = parse("---\nid: 7\n---\ntext\n")
    assert t.id == "7"
    assert t.title == "7"
    t = parse("---\nid:\ntitle:\n---\n# H\n", "a/b.md")
    assert (t.id, t.title) == ("b", "H")


def test_complete_needs_at_least_one_criterion() -> None:
    assert not parse("# T\n").complete
    assert parse("## Acceptance Criteria\n- [x] a\n- [X] b\n").complete
    assert not parse("## Acceptance Criteria\n- [x] a\n- [ ] b\n").complete


def test_empty_frontmatter_is_empty_mapping() -> None:
    for text in ("---\n---\n# T\n", "---\n# only a comment\n---\n", "---  \n\n...\nbody\n"):
        t = parse(text)
        assert t.has_frontmatter
        assert dict(t.frontmatter) == {}


def test_frontmatter_lines_are_not_markdown() -> None:
    t = parse("---\nid: A-1\ntitle: x\n---\n## Acceptance Criteria\n- [ ] a\n")
    assert [s.start for s in t.sections] == [4]
    assert t.criteria[0].line == 5


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\n- a\n- b\n---\n", "frontmatter is not a YAML mapping"),
        ("---\njust a string\n---\n", "frontmatter is not a YAML mapping"),
        ("---\n~\n---\n", "frontmatter is not a YAML mapping"),
        ("---\nreporter: @MrLesk\n---\n", "frontmatter is not valid YAML: found character '@'"),
        ('---\nlabels: "["a","b"]"\n---\n', "frontmatter is not valid YAML: "),
        ("---\na: !!python/object:os.system x\n---\n", "frontmatter is not valid YAML: "),
        ("---\ncreated: 2025-13-45\n---\n", "frontmatter is not valid YAML: "),
        ("---\nid: x\n# never closed\n", "frontmatter is not closed"),
        ("---\n", "frontmatter is not closed"),
    ],
)
def test_bad_frontmatter_is_refused(text: str, reason: str) -> None:
    with pytest.raises(TaskFileError) as exc:
        parse(text, "tasks/active/BAD-1.md")
    msg = str(exc.value)
    assert msg.startswith("tasks/active/BAD-1.md: ")
    assert reason in msg
    assert "\n" not in msg
    assert exc.value.exit_code == 3


def test_yaml_error_names_the_file_line() -> None:
    with pytest.raises(TaskFileError, match=r"line 3, column 11"):
        parse("---\nid: X-1\nreporter: @MrLesk\n---\n")


def test_non_utf8_is_refused() -> None:
    with pytest.raises(TaskFileError) as exc:
        tf.parse(b"# T\n\xff\xfe broken\n", "t/latin.md")
    assert str(exc.value).startswith("t/latin.md: not UTF-8")
    assert "\n" not in str(exc.value)


def test_oversize_data_is_refused_by_parse() -> None:
    with pytest.raises(TaskFileError, match=r"^big\.md: larger than 1 MiB"):
        tf.parse(b"a" * (tf.MAX_BYTES + 1), "big.md")


# --------------------------------------------------------------------------- criteria


def test_criteria_only_inside_acceptance_criteria_sections() -> None:
    t = parse(
        "# T\n- [ ] before\n## Notes\n- [ ] notes\n## acceptance criteria:\n- [ ] yes\n## Other\n- [ ] no\n"
    )
    assert identities(t) == ["yes"]


def test_all_list_markers_and_box_states() -> None:
    t = parse(
        "## Acceptance Criteria\n"
        "- [ ] dash\n\n* [ ] star\n\n+ [ ] plus\n\n1. [ ] dot\n\n1) [ ] paren\n\n"
        "- [x] lower\n- [X] upper\n- [~] tilde\n- [-] minus\n- [/] slash\n- [?] q\n"
        "- [] empty\n- [ x] spaced\n- [ ]no-space\n- [ ]\n- plain item\n"
    )
    assert [(c.text, c.checked) for c in t.criteria] == [
        ("dash", False),
        ("star", False),
        ("plus", False),
        ("dot", False),
        ("paren", False),
        ("lower", True),
        ("upper", True),
        ("", False),
    ]
    assert [c.col for c in t.criteria] == [2, 2, 2, 3, 3, 2, 2, 2]


def test_boxes_in_code_html_and_quotes_are_not_criteria() -> None:
    text = (
        "## Acceptance Criteria\n"
        "- [ ] real one\n"
        "\n"
        "```markdown\n- [ ] fenced\n```\n"
        "~~~\n* [ ] tilde fence\n~~~\n"
        "Paragraph.\n\n"
        "    - [ ] indented code\n"
        "\n"
        "<!--\n- [ ] in a comment\n-->\n"
        "<details>\n- [ ] in html\n</details>\n"
        "\n"
        "> - [ ] quoted\n"
        ">\n"
        "> > - [ ] deeper quote\n"
        "\n"
        "> [!todo] callout\n> - [ ] callout item\n"
        "\n"
        "- [ ] real two\n"
        "  > - [ ] quote inside item\n"
        "  ```\n  - [ ] fence inside item\n  ```\n"
    )
    t = parse(text)
    assert identities(t) == ["real one", "real two"]


def test_nested_items_depth_and_positions() -> None:
    text = (
        "## Acceptance Criteria\n"
        "- [ ] top\n"
        "  - [x] child\n"
        "    1. [ ] grandchild\n"
        "  - plain child\n"
        "    - [ ] under plain\n"
        "\t- [ ] tab indented (tab = column 4: under the plain child)\n"
        "- - [ ] same line nested\n"
    )
    t = parse(text)
    assert [(c.text, c.depth, c.line, c.col) for c in t.criteria] == [
        ("top", 0, 1, 2),
        ("child", 1, 2, 4),
        ("grandchild", 2, 3, 7),
        ("under plain", 2, 5, 6),
        ("tab indented (tab = column 4: under the plain child)", 2, 6, 3),
        ("same line nested", 1, 7, 4),
    ]
    for c in t.criteria:
        line = text.splitlines()[c.line]
        assert line[c.col] == "[" and line[c.col + 2] == "]"


def test_sub_headings_group_criteria_and_stay_in_section() -> None:
    t = parse(
        "# Task\n"
        "## Acceptance Criteria\n"
        "- [ ] general\n"
        "### FFL\n"
        "- [ ] build ffl\n"
        "#### Images\n"
        "- [ ] push ffl\n"
        "### MidwestMTG\n"
        "- [ ] build mtg\n"
        "## Notes\n"
        "- [ ] not a criterion\n"
        "### Sub of notes\n"
        "- [ ] neither\n"
    )
    assert [(c.text, c.group) for c in t.criteria] == [
        ("general", ""),
        ("build ffl", "FFL"),
        ("push ffl", "Images"),
        ("build mtg", "MidwestMTG"),
    ]


def test_setext_and_decorated_headings() -> None:
    t = parse("Acceptance Criteria\n-------------------\n- [ ] a\n\n## **Progress Log:**\n- x\n")
    assert identities(t) == ["a"]
    assert t.progress_log == ("x",)
    assert t.sections[0].level == 2


def test_duplicate_sections() -> None:
    t = parse(
        "## Acceptance Criteria\n- [ ] one\n"
        "## Dependencies\n- TASK-001\n"
        "## Progress Log\n- first log\n"
        "## Acceptance Criteria\n- [ ] two\n"
        "## Dependencies\n- **TASK-002**: must be completed first\n"
        "## Progress Log\n- second log\n\n## Tail\ntext\n"
    )
    assert identities(t) == ["one", "two"]
    assert t.dependencies == ("TASK-001", "TASK-002")
    assert t.progress_log == ("first log", "second log")
    out = edited(SPEC_EXAMPLE, Edit())
    assert out == SPEC_EXAMPLE
    a = apply(
        "## Progress Log\n- first log\n\n## Progress Log\n- second log\n\n## Tail\ntext\n",
        Edit(log=("new",)),
    )
    assert a.data.decode() == (
        "## Progress Log\n- first log\n\n## Progress Log\n- second log\n- new\n\n## Tail\ntext\n"
    )


def test_dependencies() -> None:
    t = parse(
        "## Dependencies\n"
        "- **TASK-001**: must be completed first\n"
        "- depends on ABC-12 and TASK-003\n"
        "  - nested INFRA-7\n"
        "- TASK-001 again\n"
        "- no id here, task-5 is lowercase\n"
        "Text TASK-99 outside a list item.\n"
        "```\n- TASK-100 in code\n```\n"
        "## Next\n- TASK-200\n"
    )
    assert t.dependencies == ("TASK-001", "ABC-12", "INFRA-7")


def test_annotations() -> None:
    t = parse(
        "## Acceptance Criteria\n"
        '- [ ] Smoke test <!-- taskbot: verify url="https://x.lab/a b" expect=200 -->  \n'
        "- [ ] <!--taskbot:shell cmd='make smoke'-->\n"
        "- [ ] Middle <!-- taskbot: x --> then text\n"
        "- [ ] Other comment <!-- note -->\n"
        "- [ ] Two <!-- taskbot: a --> <!-- taskbot: b -->\n"
    )
    c = t.criteria
    assert c[0].annotation == 'verify url="https://x.lab/a b" expect=200'
    assert c[0].text == "Smoke test"
    assert c[0].raw == 'Smoke test <!-- taskbot: verify url="https://x.lab/a b" expect=200 -->'
    assert c[1].annotation == "shell cmd='make smoke'"
    assert c[1].text == ""
    assert c[2].annotation is None and c[2].text == "Middle <!-- taskbot: x --> then text"
    assert c[3].annotation is None and c[3].text == "Other comment <!-- note -->"
    assert c[4].annotation == "b" and c[4].text == "Two <!-- taskbot: a -->"


def test_identity_is_whitespace_normalised() -> None:
    t = parse("## Acceptance Criteria\n- [ ]   Build \t all   <!--  taskbot:  x   -->   \n")
    assert t.criteria[0].identity == "Build all <!-- taskbot: x -->"
    assert t.criteria[0].annotation == "x"


def test_progress_log_items() -> None:
    t = parse(
        "## Progress Log\n"
        "- 2025-10-17 14:30: one  \n"
        "  continued line\n"
        "* 2025-10-18: two\n"
        "  - nested detail\n"
        "\n"
        "Not an item.\n"
        "1. numbered\n"
    )
    assert t.progress_log == ("2025-10-17 14:30: one", "2025-10-18: two", "nested detail", "numbered")


def test_headings_inside_quotes_do_not_open_sections() -> None:
    t = parse("# T\n> ## Acceptance Criteria\n- [ ] not a criterion\n")
    assert t.criteria == ()
    assert [s.title for s in t.sections] == ["T"]


# --------------------------------------------------------------------------- ticking


def test_tick_changes_one_byte() -> None:
    data = SPEC_EXAMPLE.encode()
    t = tf.parse(data, "t.md")
    for c in t.unchecked:
        a = tf.apply(data, Edit(ticks=tf.ticks_for(t.criteria, [c.index])), "t.md")
        assert a.ticked == (c.identity,) and a.missing == ()
        off, old, new = only_change(data, a.data)
        assert (old, new) == (b" ", b"x")
        line_start = len("".join(SPEC_EXAMPLE.splitlines(keepends=True)[: c.line]).encode())
        assert off == line_start + c.col + 1


def test_tick_by_identity_and_occurrence() -> None:
    text = "## Acceptance Criteria\n- [x] same\n- [ ] same\n- [ ]  same \n- [ ] other\n"
    a = apply(text, Edit(ticks=(Tick("same", 2),)))
    assert a.data.decode() == text.replace("- [ ]  same", "- [x]  same")
    # the checked first one, and one asked twice, are missing: never another line instead
    a = apply(text, Edit(ticks=(Tick("same", 1), Tick("  same", 2), Tick("same", 1),
                                Tick("same", 0))))
    assert a.ticked == ("same", "same")
    assert a.missing == ("same", "same")
    assert a.data.decode() == ("## Acceptance Criteria\n- [x] same\n- [x] same\n- [x]  same \n- [ ] other\n")


def test_tick_keeps_annotation_and_trailing_spaces() -> None:
    text = "## Acceptance Criteria\n  * [ ] Smoke <!-- taskbot: verify url=x -->   \n"
    a = apply(text, Edit(ticks=(Tick("Smoke <!-- taskbot: verify url=x -->", 0),)))
    assert a.data.decode() == text.replace("[ ]", "[x]")


def test_reapply_after_a_person_edited_another_line() -> None:
    original = "## Acceptance Criteria\n- [ ] Build all\n- [ ] Push all\n\n## Progress Log\n- old\n"
    t = parse(original)
    # A person changed the neighbouring line and added a criterion meanwhile.
    changed = original.replace("- [ ] Push all\n", "- [ ] Push all images now\n- [ ] New one\n")
    a = apply(changed, Edit(ticks=(Tick(t.criteria[0].identity, 0),), log=("ticked",)))
    assert a.ticked == ("Build all",) and a.missing == ()
    assert a.data.decode() == changed.replace("- [ ] Build all", "- [x] Build all") + "- ticked\n"


@pytest.mark.parametrize(
    "change",
    [
        ("- [ ] Build all\n", "- [ ] Build all 0.1.19\n"),  # edited
        ("- [ ] Build all\n", "- [x] Build all\n"),  # re-checked by a person
        ("- [ ] Build all\n", ""),  # removed
        ("- [ ] Build all\n", "- [~] Build all\n"),  # other mark
    ],
)
def test_reapply_when_the_ticked_line_itself_changed(change: tuple[str, str]) -> None:
    original = "## Acceptance Criteria\n- [ ] Build all\n- [ ] Push all\n"
    changed = original.replace(*change)
    a = apply(changed, Edit(ticks=(Tick("Build all", 0),)))
    assert a.ticked == ()
    assert a.missing == ("Build all",)
    assert a.data == changed.encode()


def test_empty_edit_changes_nothing() -> None:
    for text in (SPEC_EXAMPLE, "", "\ufeff", "no newline", "# T\r\nx\r\n"):
        assert apply(text, Edit()).data == text.encode()


# --------------------------------------------------------------------------- line endings, BOM


def test_crlf_stays_crlf() -> None:
    text = SPEC_EXAMPLE.replace("\n", "\r\n")
    t = parse(text)
    assert t.newline == "\r\n"
    assert [c.line for c in t.criteria] == [12, 13, 14, 15, 16]
    a = apply(text, Edit(ticks=tf.ticks_for(t.criteria, [0]), updated=DATE, log=("done",)))
    expected = (
        text.replace("- [ ] Build", "- [x] Build")
        .replace("updated: 2025-10-17", f"updated: {DATE}")
        .replace("successfully\r\n", "successfully\r\n- done\r\n")
    )
    assert a.data.decode() == expected
    assert b"\n" not in a.data.replace(b"\r\n", b"")


def test_crlf_added_lines_use_crlf() -> None:
    text = "# T\r\n\r\n## Acceptance Criteria\r\n- [ ] a\r\n"
    out = edited(text, Edit(updated=DATE, log=("x",)))
    assert out == (
        f"---\r\nupdated: {DATE}\r\n---\r\n# T\r\n\r\n## Acceptance Criteria\r\n- [ ] a\r\n"
        "\r\n## Progress Log\r\n\r\n- x\r\n"
    )


def test_mixed_line_endings_are_never_rewritten() -> None:
    text = "---\nid: X-1\r\n---\n## Acceptance Criteria\r\n- [ ] a\n- [ ] b\r\n## Progress Log\n- l\r\n"
    t = parse(text)
    assert t.newline == "\n"
    a = apply(text, Edit(ticks=(Tick("a", 0), Tick("b", 0)), updated=DATE, log=("m",)))
    assert a.data.decode() == (
        f"---\nid: X-1\r\nupdated: {DATE}\n---\n## Acceptance Criteria\r\n- [x] a\n- [x] b\r\n"
        "## Progress Log\n- l\r\n- m\n"
    )


def test_lone_cr_line_endings() -> None:
    text = "## Acceptance Criteria\r- [ ] a\r## Progress Log\r- l"
    t = parse(text)
    assert t.newline == "\r"
    assert identities(t) == ["a"]
    ticked = edited(text, Edit(ticks=(Tick("a", 0),), log=("m",)))
    assert ticked == text.replace("[ ]", "[x]") + "\r- m"


def test_bom_is_kept() -> None:
    text = "\ufeff---\nid: B-1\nupdated: 2025-01-01\n---\n# Title\n## Acceptance Criteria\n- [ ] a\n"
    t = parse(text)
    assert t.id == "B-1" and t.title == "Title"
    out = apply(text, Edit(ticks=(Tick("a", 0),), updated=DATE)).data
    assert out.startswith(b"\xef\xbb\xbf---\n")
    assert out.decode() == text.replace("2025-01-01", DATE).replace("[ ]", "[x]")


def test_bom_without_frontmatter() -> None:
    text = "\ufeff# Title\n\n## Acceptance Criteria\n- [ ] a\n"
    t = parse(text)
    assert t.title == "Title"
    assert t.sections[0].start == 0
    out = edited(text, Edit(updated=DATE))
    assert out == f"\ufeff---\nupdated: {DATE}\n---\n# Title\n\n## Acceptance Criteria\n- [ ] a\n"


def test_no_final_newline_is_kept() -> None:
    text = "## Acceptance Criteria\n- [ ] a\n\n## Progress Log\n- l"
    assert edited(text, Edit(ticks=(Tick("a", 0),))) == text.replace("[ ]", "[x]")
    assert edited(text, Edit(log=("m", "n"))) == text + "\n- m\n- n"
    text2 = "## Acceptance Criteria\n- [ ] a"
    assert edited(text2, Edit(log=("m",))) == text2 + "\n\n## Progress Log\n\n- m"
    assert edited(text2 + "\n", Edit(log=("m",))) == text2 + "\n\n## Progress Log\n\n- m\n"
    assert edited(text2 + "\n\n", Edit(log=("m",))) == text2 + "\n\n## Progress Log\n\n- m\n"
    assert edited("", Edit(log=("m",))) == "## Progress Log\n\n- m\n"


# --------------------------------------------------------------------------- frontmatter edits


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("updated: 2025-10-19", f"updated: {DATE}"),
        ('updated: "2025-10-19"', f'updated: "{DATE}"'),
        ("updated: '2025-10-19'", f"updated: '{DATE}'"),
        ("updated:", f"updated: {DATE}"),
        ("updated:   # touched by hand", f"updated: {DATE}   # touched by hand"),
        ('updated:   "2025-10-19"   # keep me', f'updated:   "{DATE}"   # keep me'),
        ("updated: ~", f"updated: {DATE}"),
        ("updated: 2025-10-19 14:30", f"updated: {DATE}"),
        ("updated: !!str 2025-10-19", f"updated: !!str {DATE}"),
    ],
)
def test_updated_keeps_style(line: str, expected: str) -> None:
    text = f"---\nid: T-1\n{line}\nstatus: active\n---\n# T\n"
    out = edited(text, Edit(updated=DATE))
    assert out == text.replace(line, expected)
    assert str(parse(out).frontmatter["updated"]) == DATE


def test_updated_added_as_last_key_when_absent() -> None:
    text = "---\nid: T-1\nlabels:\n  - a\n  - b\n# comment\n---\n# T\n"
    out = edited(text, Edit(updated=DATE))
    assert out == f"---\nid: T-1\nlabels:\n  - a\n  - b\n# comment\nupdated: {DATE}\n---\n# T\n"


def test_updated_in_empty_frontmatter() -> None:
    assert edited("---\n---\n# T\n", Edit(updated=DATE)) == f"---\nupdated: {DATE}\n---\n# T\n"


def test_updated_only_value_bytes_change() -> None:
    data = SPEC_EXAMPLE.encode()
    a = tf.apply(data, Edit(updated=DATE), "t.md")
    off, old, new = only_change(data, a.data)
    assert data[:off].endswith(b"updated: 202")
    assert (old, new) == (b"5-10-17", b"6-11-26")


def test_updated_duplicate_key_edits_the_effective_one() -> None:
    text = "---\nupdated: 2020-01-01\nupdated: 2021-01-01\n---\n"
    out = edited(text, Edit(updated=DATE))
    assert out == f"---\nupdated: 2020-01-01\nupdated: {DATE}\n---\n"


def test_updated_block_scalar_is_replaced() -> None:
    text = "---\nupdated: |\n  2025-10-19\nid: T-1\n---\n"
    out = edited(text, Edit(updated=DATE))
    assert out == f"---\nupdated: {DATE}\nid: T-1\n---\n"


def test_status_and_other_keys() -> None:
    text = "---\nid: T-1\nstatus: active\n---\n# T\n"
    out = edited(text, Edit(updated=DATE, frontmatter=(("status", "completed"), ("note", "yes"))))
    assert out == f'---\nid: T-1\nstatus: completed\nupdated: {DATE}\nnote: "yes"\n---\n# T\n'
    t = parse(out)
    assert t.frontmatter["status"] == "completed"
    assert t.frontmatter["note"] == "yes"


def test_frontmatter_added_when_none() -> None:
    out = edited("# T\n", Edit(updated=DATE, frontmatter=(("status", "completed"),)))
    assert out == f"---\nupdated: {DATE}\nstatus: completed\n---\n# T\n"


def test_indented_frontmatter_mapping() -> None:
    out = edited("---\n  id: T-1\n---\n", Edit(updated=DATE))
    assert out == f"---\n  id: T-1\n  updated: {DATE}\n---\n"


def test_bad_edit_arguments() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        apply(SPEC_EXAMPLE, Edit(updated="26.11.2026"))
    with pytest.raises(ValueError, match="line break"):
        apply(SPEC_EXAMPLE, Edit(frontmatter=(("status", "a\nb"),)))
    with pytest.raises(ValueError, match="simple key"):
        apply(SPEC_EXAMPLE, Edit(frontmatter=(("a: b", "c"),)))


def test_flow_frontmatter_that_cannot_take_a_line_is_refused() -> None:
    text = "---\n{id: T-1}\n---\n"
    with pytest.raises(TaskFileError, match="cannot apply the edit safely"):
        apply(text, Edit(updated=DATE))
    assert edited("---\n{id: T-1, updated: 2020-01-01}\n---\n", Edit(updated=DATE)) == (
        f"---\n{{id: T-1, updated: {DATE}}}\n---\n"
    )


# --------------------------------------------------------------------------- progress log


def test_log_goes_after_last_non_blank_line_of_section() -> None:
    text = "## Progress Log\n- a\n  more of a\n\n\n## Next\ntext\n"
    out = edited(text, Edit(log=("b", "c")))
    assert out == "## Progress Log\n- a\n  more of a\n- b\n- c\n\n\n## Next\ntext\n"
    t = parse(out)
    assert t.progress_log == ("a", "b", "c")


def test_log_in_section_without_entries() -> None:
    text = "## Progress Log\n\n## Next\n"
    assert edited(text, Edit(log=("b",))) == "## Progress Log\n- b\n\n## Next\n"


def test_log_section_with_sub_headings() -> None:
    text = "## Progress Log\n### 2025\n- a\n\n# Top\n"
    assert edited(text, Edit(log=("b",))) == "## Progress Log\n### 2025\n- a\n- b\n\n# Top\n"


def test_log_newlines_become_spaces() -> None:
    out = edited("## Progress Log\n- a\n", Edit(log=("line one\nline two\r\nthree\rfour",)))
    assert out == "## Progress Log\n- a\n- line one line two three four\n"


def test_log_after_html_block_falls_back_to_a_blank_line() -> None:
    text = "## Progress Log\n- a\n<details>\nraw\n</details>\n"
    out = edited(text, Edit(log=("b",)))
    assert out == text + "\n- b\n"
    assert parse(out).progress_log == ("a", "b")


def test_log_appended_section_when_absent() -> None:
    out = edited(SPEC_EXAMPLE.replace("## Progress Log\n", "## Notes\n"), Edit(log=("x",)))
    assert out.endswith("successfully\n\n## Progress Log\n\n- x\n")


def test_log_that_cannot_be_read_back_is_refused() -> None:
    with pytest.raises(TaskFileError, match="cannot apply the edit safely"):
        apply("## Progress Log\n- a\n```\nnever closed\n", Edit(log=("b",)))


# --------------------------------------------------------------------------- files


def test_read_load_write_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "TASK-001.md"
    p.write_bytes(SPEC_EXAMPLE.encode())
    p.chmod(0o640)
    assert tf.read(p) == SPEC_EXAMPLE.encode()
    t = tf.load(p)
    assert t.path == str(p) and t.id == "TASK-001"
    build = Tick("Build all FFL containers with version 0.1.18", 0)
    a = tf.apply(tf.read(p), Edit(ticks=(build,)), t.path)
    tf.write(p, a.data)
    assert p.read_bytes() == a.data
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["TASK-001.md"]


def test_write_new_file(tmp_path: Path) -> None:
    p = tmp_path / "new.md"
    tf.write(str(p), b"x\n")
    assert p.read_bytes() == b"x\n"


def test_read_refuses_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text("# T\n")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    with pytest.raises(TaskFileError) as exc:
        tf.read(link)
    assert str(exc.value) == f"{link}: is a symlink; taskbot never follows or edits symlinks"
    with pytest.raises(TaskFileError, match="symlink"):
        tf.load(link)


def test_write_refuses_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text("# T\n")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    with pytest.raises(TaskFileError, match=r"link\.md: is a symlink; not written"):
        tf.write(link, b"changed")
    assert target.read_text() == "# T\n"
    assert link.is_symlink()


def test_read_refuses_oversize(tmp_path: Path) -> None:
    p = tmp_path / "big.md"
    p.write_bytes(b"x" * (tf.MAX_BYTES + 1))
    with pytest.raises(TaskFileError) as exc:
        tf.read(p)
    assert str(exc.value).startswith(f"{p}: larger than 1 MiB")
    p.write_bytes(b"x" * tf.MAX_BYTES)
    assert len(tf.read(p)) == tf.MAX_BYTES


def test_read_refuses_missing_and_directories(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match=r"nope\.md: cannot read: No such file"):
        tf.read(tmp_path / "nope.md")
    with pytest.raises(TaskFileError, match="is not a regular file"):
        tf.read(tmp_path)


def test_load_refuses_non_utf8_file(tmp_path: Path) -> None:
    p = tmp_path / "latin1.md"
    p.write_bytes("# Tâche\n".encode("latin-1"))
    with pytest.raises(TaskFileError) as exc:
        tf.load(p)
    assert str(exc.value).startswith(f"{p}: not UTF-8")
