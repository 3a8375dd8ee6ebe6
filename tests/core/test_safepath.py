"""bot.safepath: no link followed anywhere along a path, atomic writes, one-line refusals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.safepath import UnsafePath, dir_inside, files_inside, read_inside, write_inside

LINK = "is a symlink; taskbot never follows links in a repository"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """repo/ with a file, a script, a link to a file and a link to a folder outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"outside\n")
    repo = tmp_path / "repo"
    (repo / "apps" / "ffl").mkdir(parents=True)
    (repo / "apps" / "ffl" / "hr.yaml").write_bytes(b"tag: 1\n")
    (repo / "build.sh").write_bytes(b"#!/bin/sh\n")
    (repo / "build.sh").chmod(0o755)
    (repo / "apps" / "ffl" / "link.yaml").symlink_to(outside / "secret")
    (repo / "docs").symlink_to(outside)
    return repo


def test_reads_a_plain_file_and_refuses_a_link_at_any_depth(tree: Path) -> None:
    assert read_inside(tree, "apps/ffl/hr.yaml") == b"tag: 1\n"
    with pytest.raises(UnsafePath, match=f"^apps/ffl/link.yaml: apps/ffl/link.yaml {LINK}$"):
        read_inside(tree, "apps/ffl/link.yaml")
    with pytest.raises(UnsafePath, match=f"^docs/secret: docs {LINK}$"):
        read_inside(tree, "docs/secret")
    with pytest.raises(UnsafePath, match=f"^docs: docs {LINK}$"):
        dir_inside(tree, "docs")
    with pytest.raises(FileNotFoundError, match="apps/ffl/missing"):
        read_inside(tree, "apps/ffl/missing")


@pytest.mark.parametrize("rel", ["../outside/secret", "apps/../../outside/secret", "/etc/passwd", ""])
def test_refuses_paths_that_could_leave_the_root(tree: Path, rel: str) -> None:
    with pytest.raises(UnsafePath, match="not a relative path inside the repository"):
        read_inside(tree, rel)
    with pytest.raises(UnsafePath, match="not a relative path inside the repository"):
        write_inside(tree, rel, b"x")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    with pytest.raises(UnsafePath, match=r"^pipe: not a regular file$"):
        read_inside(tree, "pipe")


def test_write_replaces_the_file_keeps_its_mode_and_never_writes_through_a_link(tree: Path) -> None:
    write_inside(tree, "build.sh", b"#!/bin/sh\necho new\n")
    assert (tree / "build.sh").read_bytes() == b"#!/bin/sh\necho new\n"
    assert stat.S_IMODE((tree / "build.sh").stat().st_mode) == 0o755
    with pytest.raises(UnsafePath, match=f"^apps/ffl/link.yaml: apps/ffl/link.yaml {LINK}$"):
        write_inside(tree, "apps/ffl/link.yaml", b"pwned\n")
    with pytest.raises(UnsafePath, match=f"^docs/secret: docs {LINK}$"):
        write_inside(tree, "docs/secret", b"pwned\n")
    assert (tree.parent / "outside" / "secret").read_bytes() == b"outside\n"
    assert (tree / "apps/ffl/link.yaml").is_symlink()
    assert sorted(p.name for p in tree.iterdir()) == ["apps", "build.sh", "docs"]  # no temp file


def test_files_inside_lists_regular_files_and_refuses_a_link_among_them(tree: Path) -> None:
    (tree / "infra" / "registry" / "sub").mkdir(parents=True)
    (tree / "infra" / "registry" / "a.yaml").write_text("a\n")
    (tree / "infra" / "registry" / "sub" / "b.yaml").write_text("b\n")
    assert files_inside(tree, "infra/registry") == ["infra/registry/a.yaml",
                                                    "infra/registry/sub/b.yaml"]
    (tree / "infra" / "registry" / "sub" / "c").symlink_to(tree.parent / "outside")
    with pytest.raises(UnsafePath, match=f"^infra/registry/sub/c: infra/registry/sub/c {LINK}$"):
        files_inside(tree, "infra/registry")
    with pytest.raises(UnsafePath, match=f"^docs: docs {LINK}$"):
        files_inside(tree, "docs")


def test_a_name_with_control_characters_is_one_escaped_line(tree: Path) -> None:
    (tree / "evil\n\x1b[2J").symlink_to(tree.parent / "outside")
    with pytest.raises(UnsafePath) as caught:
        read_inside(tree, "evil\n\x1b[2J/secret")
    assert str(caught.value) == f"evil\\n\\x1b[2J/secret: evil\\n\\x1b[2J {LINK}"
