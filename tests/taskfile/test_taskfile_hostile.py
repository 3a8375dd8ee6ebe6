"""Hostile task files: annotations hidden in code spans, NUL bytes, YAML alias bombs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import TaskFileError
from bot.taskfile import parse
from tests.kit.context import actions, make_ctx

CANARY = '<!-- taskbot: shell project=demo cmd="touch CANARY" -->'


def _criterion(item: str, frontmatter: str = "") -> tuple[str, str | None]:
    head = f"---\n{frontmatter}---\n" if frontmatter else ""
    task = parse(f"{head}# T\n## Acceptance Criteria\n{item}".encode(), "tasks/T-1.md")
    c = task.criteria[0]
    return c.text, c.annotation


def test_annotation_in_a_code_span_closed_on_the_next_line_is_text() -> None:
    text, annotation = _criterion(f"- [ ] see `{CANARY}\n  more`\n")
    assert annotation is None
    assert text == f"see `{CANARY}"


def test_annotation_in_a_code_span_does_not_resolve_to_the_shell_handler(tmp_path: Path) -> None:
    ctx = make_ctx({}, tmp_path)
    (action,) = actions(ctx, f"see `{CANARY}\n  more`")
    assert action.source == "manual" and action.handler is None


def test_annotation_in_a_one_line_code_span_is_text() -> None:
    assert _criterion(f"- [ ] see `{CANARY}`\n")[1] is None
    assert _criterion(f"- [ ] see `` {CANARY} ``\n")[1] is None


def test_escaped_annotation_is_text() -> None:
    text, annotation = _criterion(f"- [ ] see \\{CANARY}\n")
    assert annotation is None
    assert text == f"see \\{CANARY}"


def test_annotation_in_a_comment_that_opened_earlier_is_text() -> None:
    assert _criterion(f"- [ ] a <!-- note {CANARY}\n")[1] is None


@pytest.mark.parametrize("item", [
    f"- [ ] Touch it {CANARY}\n",
    f"- [ ] Touch it {CANARY}   \n  continued on the next line\n",
    f"- [ ] Touch `it` {CANARY}\n",
])
def test_annotation_at_the_end_of_the_first_line_still_counts(item: str) -> None:
    text, annotation = _criterion(item)
    assert annotation == 'shell project=demo cmd="touch CANARY"'
    assert text.replace("`", "") == "Touch it"


def test_annotation_with_double_dashes_counts() -> None:
    assert _criterion('- [ ] L <!-- taskbot: shell cmd="ls --all" -->\n')[1] == \
        'shell cmd="ls --all"'


def test_nul_byte_is_refused_with_its_line() -> None:
    with pytest.raises(TaskFileError, match=r"T-1\.md: contains a NUL byte at line 4$"):
        _criterion("- [ ] ok\n- [ ] a\x00b\n")


def test_other_control_characters_stay_in_the_text() -> None:
    # escaped where they are written (commit messages, notes, reports), not here
    assert _criterion("- [ ] a\x1b[31mred\x7f\n")[0] == "a\x1b[31mred\x7f"


BOMB = "".join(
    [f"a: &a [{','.join('x' * 9)}]\n"]
    + [f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)]
)


def test_alias_bomb_is_refused_fast_with_a_one_line_reason() -> None:
    started = time.monotonic()
    with pytest.raises(TaskFileError) as caught:
        _criterion("- [ ] x\n", frontmatter=BOMB)
    assert time.monotonic() - started < 1.0
    reason = str(caught.value)
    assert "\n" not in reason
    assert reason == ("tasks/T-1.md: frontmatter is refused: its YAML aliases expand to more "
                      "than 10000 values (or refer to themselves)")


def test_nine_levels_are_refused_as_fast() -> None:
    deep = BOMB + "".join(f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n"
                          for p, n in zip("fgh", "ghi", strict=True))
    started = time.monotonic()
    with pytest.raises(TaskFileError, match="aliases expand"):
        _criterion("- [ ] x\n", frontmatter=deep)
    assert time.monotonic() - started < 1.0


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(TaskFileError, match="aliases expand"):
        _criterion("- [ ] x\n", frontmatter="a: &a [1, *a]\n")


def test_small_aliases_and_merge_keys_still_parse() -> None:
    task = parse(b"---\nbase: &b {owner: ops, tags: [a, b]}\nother:\n  <<: *b\n  x: 1\n"
                 b"list: [*b, *b]\n---\n# T\n", "tasks/T-1.md")
    assert task.frontmatter["other"] == {"owner": "ops", "tags": ["a", "b"], "x": 1}


@pytest.mark.parametrize("frontmatter", [
    'title: "hi \\uD800 there"\n',
    'id: "T-\\udfff"\n',
    'labels: [ok, "\\uD83D"]\n',
    'nested: {deep: ["\\uDC00"]}\n',
])
def test_a_lone_surrogate_in_the_frontmatter_is_refused(frontmatter: str) -> None:
    # No commit message, branch name, JSON file or e-mail can hold one: refused at the door.
    with pytest.raises(TaskFileError, match="lone surrogate"):
        parse(f"---\n{frontmatter}---\n## Acceptance Criteria\n- [ ] x\n".encode(),
              "tasks/T-1.md")

