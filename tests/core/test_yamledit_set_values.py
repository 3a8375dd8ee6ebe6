"""bot.yamledit.set_values: a mapping read as text (task file frontmatter), edited in place."""

from __future__ import annotations

import pytest
import yaml

from bot.yamledit import YamlEditError, YamlFile, reads_as_text, set_values

D = "2026-11-26"


def _set(text: str, *pairs: tuple[str, str], newline: str = "\n") -> str:
    return set_values(YamlFile(text, "fm.yaml", yaml.SafeLoader), dict(pairs), newline)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("updated: 2020-01-01\n", f"updated: {D}\n"),
        ("updated: ~\n", f"updated: {D}\n"),  # the type may change: the value is read as text
        ("updated:\n", f"updated: {D}\n"),
        ("updated:   # by hand\n", f"updated: {D}   # by hand\n"),
        ("updated: 'x'\n", f"updated: '{D}'\n"),
        ('updated: "x"  # c\n', f'updated: "{D}"  # c\n'),
        ("updated: !!str x\n", f"updated: !!str {D}\n"),
        ("updated: &d x\n", f"updated: &d {D}\n"),
        ("updated: !!str |\n  x\nid: 1\n", f"updated: !!str {D}\nid: 1\n"),
        ("updated: >-\n  x\n\nid: 1\n", f"updated: {D}\n\nid: 1\n"),
        ("updated: [a, b]  # c\n", f"updated: {D}  # c\n"),
        ('updated: "multi\n  line"\n', f'updated: "{D}"\n'),
        ("updated: 1\nupdated: 2\n", f"updated: 1\nupdated: {D}\n"),  # the one PyYAML reads
    ],
)
def test_existing_value_replaced(before: str, after: str) -> None:
    assert _set(before, ("updated", D)) == after


def test_missing_keys_added_in_order_after_the_mapping() -> None:
    text = "  id: T-1\n  # trailing comment\n"
    assert _set(text, ("updated", D), ("note", "yes")) == (
        f'  id: T-1\n  # trailing comment\n  updated: {D}\n  note: "yes"\n')
    assert _set("", ("status", "done")) == "status: done\n"
    assert _set("# only a comment\r\n", ("a", "b"), newline="\r\n") == "# only a comment\r\na: b\r\n"
    assert _set("id: 1", ("a", "b")) == "id: 1\na: b\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("completed", "completed"),
        ("12", "12"),
        ("yes", '"yes"'),
        ("null", '"null"'),
        ("1.10", '"1.10"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        (" padded", '" padded"'),
        ("", '""'),
        ('say "hi" \\o/', 'say "hi" \\o/'),
        ('"hi" \\o/', '"\\"hi\\" \\\\o/"'),
        ("2026-13-45", '"2026-13-45"'),  # no date: would not load at all
    ],
)
def test_new_value_plain_only_when_it_reads_back_as_the_same_text(value: str, written: str) -> None:
    out = _set("id: 1\n", ("k", value))
    assert out == f"id: 1\nk: {written}\n"
    loaded = yaml.safe_load(out)["k"]
    assert loaded == value or reads_as_text(loaded, value)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="simple key"):
        _set("id: 1\n", ("a: b", "c"))
    with pytest.raises(ValueError, match="line break"):
        _set("id: 1\n", ("a", "x\u2028y"))
    with pytest.raises(YamlEditError, match="control characters"):
        _set("id: 1\n", ("a", "x\ty"))
    with pytest.raises(YamlEditError, match="shared through an anchor"):
        _set("updated: &d 2020-01-01\ncreated: *d\n", ("updated", D))
    with pytest.raises(YamlEditError, match="PyYAML cannot read"):
        _set("{id: 1}\n", ("updated", D))  # a line after a flow mapping is no YAML
    with pytest.raises(YamlEditError, match="not a YAML mapping"):
        _set("- a\n", ("updated", D))


def test_flow_mapping_value_replaced_in_place() -> None:
    assert _set("{id: 1, updated: 2020-01-01}\n", ("updated", D)) == f"{{id: 1, updated: {D}}}\n"


def test_reads_as_text() -> None:
    assert reads_as_text(12, "12") and reads_as_text("x", "x")
    assert not reads_as_text(None, "None") and not reads_as_text(True, "True")
    assert not reads_as_text(1.1, "1.10") and not reads_as_text(["a"], "['a']")
