"""A path's entry in a tree costs no memory that stays: pygit2 keeps a reference to every
key a tree is asked for, so each lookup with a new string was a string never freed
(~3 MB over the soak's 2,000 pushes). Names are interned first: one string per name."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pygit2

from bot.git import folders
from bot.state.memory import Memory


def test_looking_the_same_names_up_again_keeps_no_new_memory(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r"), bare=True)
    blob = repo.create_blob(b"x")
    files = repo.TreeBuilder()
    for n in range(500):
        files.insert(f"T-{n:05d}.md", blob, pygit2.enums.FileMode.BLOB)
    top = repo.TreeBuilder()
    top.insert("active", files.write(), pygit2.enums.FileMode.TREE)
    tree = repo[top.write()]
    assert isinstance(tree, pygit2.Tree)
    memory = Memory()

    def look() -> None:
        for n in range(500):
            assert folders.entry(tree, "".join(["active/T-", f"{n:05d}", ".md"]), memory)

    look()  # the names' first lookup: interned, kept once
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(4):
        look()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 20_000, f"{grown} bytes kept after 2,000 lookups of 500 known names"
