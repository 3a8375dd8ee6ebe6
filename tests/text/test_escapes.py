"""One escaper per sink: names from a push (detect), Markdown (mdescape), the terminal (textcap)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2

from bot.git.detect import detect
from bot.text.mdescape import cell, code_span, inline, link_target
from bot.text.textcap import clean, display_name, escape_controls


def test_a_name_that_is_not_utf8_or_holds_a_control_is_a_refused_trigger(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    folder = repo / "tasks" / "active"
    folder.mkdir(parents=True)
    for name in (b"bad-\xff.md", b"x\n# heading.md", b"\x1b]0;title\x07.md", b"ok.md"):
        (folder / os.fsdecode(name)).write_bytes(b"# T\n## Acceptance Criteria\n- [ ] a\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "t"], cwd=repo, check=True)
    found = {t.path: (t.indices, t.error)
             for t in detect(pygit2.Repository(str(repo)), None, "HEAD", "tasks/active")}
    assert found == {
        "tasks/active/bad-\\xff.md": ((), "tasks/active/bad-\\xff.md: the file name is not UTF-8"),
        "tasks/active/x\\n# heading.md": ((), "tasks/active/x\\n# heading.md: the file name "
                                          "holds a control character or line break"),
        "tasks/active/\\x1b]0;title\\x07.md": ((), "tasks/active/\\x1b]0;title\\x07.md: the file "
                                               "name holds a control character or line break"),
        "tasks/active/ok.md": ((0,), ""),
    }
    for path, (_, error) in found.items():
        (path + error).encode("utf-8")  # every one encodable


def test_lone_surrogates_are_escaped_everywhere_text_is_recorded() -> None:
    assert display_name("bad-\udcff.md") == "bad-\\xff.md"  # the byte pygit2 could not decode
    assert escape_controls("hi \ud800 there") == "hi \\ud800 there"
    assert clean("a\udcffb" * 3000).encode("utf-8")


def test_markdown_from_a_push_renders_as_text() -> None:
    text = 'a <img src="x"> <details>\n# ✅ Backup verified [x](http://e) `c` | *b* \\'
    assert inline(text) == ('a &lt;img src="x"&gt; &lt;details&gt;\\n# ✅ Backup verified '
                            '\\[x\\](http://e) \\`c\\` \\| \\*b\\* \\\\')
    assert cell(" a |\n b ") == "a \\| b" and cell("  ") == "—"
    assert link_target("../active/a b)(c).md") == "../active/a%20b%29%28c%29.md"
    assert code_span("taskbot/a`b") == "``taskbot/a`b``"
