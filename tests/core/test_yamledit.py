"""bot.yamledit: only the scalar's bytes change; shared, block and unreadable scalars are refused."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from bot.yamledit import ScalarEdit, YamlEditError, YamlFile, edit_scalars, scalar

DOC = """\
# leading comment
image:   # the app
  repository: ghcr.io/ffl/backend
  tag: 0.1.17   # renovate: keep
single: 'v1'
double: "v2"
tagged: !!str 35
number: 35
anchored: &a 1.0.0
alias: *a
lonely: &unused 3
block: |
  text
"""


def _edit(text: str, *changes: tuple[tuple[str, ...], str]) -> str:
    doc = YamlFile(text, "t.yaml")
    root = doc.documents[0]
    edits = []
    for keys, value in changes:
        node = scalar(root, *keys)
        assert node is not None, keys
        edits.append(ScalarEdit(node, value, ".".join(keys)))
    return edit_scalars(doc, edits)[0]


def test_only_the_scalar_bytes_change_in_its_own_style() -> None:
    out = _edit(DOC, (("image", "tag"), "0.1.18"), (("single",), "v9"), (("double",), "v8"),
                (("tagged",), "36"), (("lonely",), "4"))
    expected = (DOC.replace("tag: 0.1.17   #", "tag: 0.1.18   #")
                .replace("'v1'", "'v9'").replace('"v2"', '"v8"')
                .replace("!!str 35", "!!str 36").replace("&unused 3", "&unused 4"))
    assert out == expected


def test_plain_scalar_is_quoted_only_when_its_type_would_change() -> None:
    assert "number: 36\n" in _edit(DOC, (("number",), "36"))
    assert "number: 0.1.18\n" in _edit(DOC, (("number",), "0.1.18"))
    assert 'number: "1.10"\n' in _edit(DOC, (("number",), "1.10"))  # would read as a float
    assert 'tag: "true"   #' in _edit(DOC, (("image", "tag"), "true"))
    assert 'tag: "a: b"   #' in _edit(DOC, (("image", "tag"), "a: b"))  # not a valid plain scalar
    assert "single: 'it''s'\n" in _edit(DOC, (("single",), "it's"))


def test_refusals_name_the_reason() -> None:
    with pytest.raises(YamlEditError, match=r"line 9: alias is shared through an anchor "
                                            r"\(anchor &a \(line 9\) is aliased at line 10\)"):
        _edit(DOC, (("alias",), "2"))
    with pytest.raises(YamlEditError, match="anchored is shared through an anchor"):
        _edit(DOC, (("anchored",), "2"))
    with pytest.raises(YamlEditError, match="block scalar"):
        _edit(DOC, (("block",), "x"))
    with pytest.raises(YamlEditError, match="spans several lines"):
        _edit("a: one\n  two\n", (("a",), "x"))
    with pytest.raises(YamlEditError, match=r"PyYAML cannot read this file: .*duplicate anchor"):
        YamlFile("a: &x 1\nb: &x 2\n", "dup.yaml")
    with pytest.raises(YamlEditError, match="not UTF-8"):
        YamlFile.from_bytes(b"a: \xff\n", "latin.yaml")
    with pytest.raises(YamlEditError, match="control characters"):
        _edit(DOC, (("single",), "a\nb"))


def test_crlf_bom_multi_document_and_unchanged_values() -> None:
    text = "\ufeff# c\r\nkind: A\r\ntag: 1\r\n---\r\nkind: B\r\ntag: 'x'  \r\n"
    doc = YamlFile(text, "m.yaml")
    second = scalar(doc.documents[1], "tag")
    first = scalar(doc.documents[0], "tag")
    assert second is not None and first is not None
    out, changes = edit_scalars(doc, [ScalarEdit(second, "y"), ScalarEdit(first, "1")])
    assert out == text.replace("'x'", "'y'")
    assert [(c.line, c.old, c.new) for c in changes] == [(6, "x", "y")]  # an equal value: no edit


def test_custom_tags_and_merge_keys_are_composed_not_constructed() -> None:
    text = "a: !env_var FOO\nbase: &b {x: 1}\nc:\n  <<: *b\n  tag: v1\nm: =\n"
    out = _edit(text, (("c", "tag"), "v2"))
    assert out == text.replace("tag: v1", "tag: v2")


VERSIONS = st.from_regex(r"[A-Za-z0-9._+-]{1,20}", fullmatch=True)


@given(VERSIONS, st.sampled_from(["0.1.17", "'0.1.17'", '"0.1.17"', "35", "!!str 35"]))
@example(version="00", old="35")  # an int tag, but not the int's own spelling: quoted
@example(version="0x1F", old="35")
def test_any_version_reads_back_as_that_string(version: str, old: str) -> None:
    text = f"spec:\n  values:\n    image:\n      tag: {old}  # c\n    other: 1\n"
    out = _edit(text, (("spec", "values", "image", "tag"), version))
    loaded = yaml.safe_load(out)
    assert str(loaded["spec"]["values"]["image"]["tag"]) == version
    if not isinstance(loaded["spec"]["values"]["image"]["tag"], str):
        # kept plain only when the old value had the same type (35 → 36)
        assert type(loaded["spec"]["values"]["image"]["tag"]) is type(yaml.safe_load(text)
                                                                        ["spec"]["values"]["image"]["tag"])
    assert out.endswith("  # c\n    other: 1\n")
    assert out.splitlines()[:3] == text.splitlines()[:3]
