"""Whether libgit2 reads and writes a few paths byte for byte as git would.

libgit2 runs no filter drivers, knows no `working-tree-encoding`, reads no config from the
environment (GIT_CONFIG_COUNT…) and ignores sparse checkout: where any of it could apply,
taskbot lets git itself reset or commit (`bot.git.reset`, `bot.git.commitpaths`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

__all__ = ["plain_bytes"]

# What makes git write other bytes than the blob's, or other files, than libgit2 would:
# libgit2 runs no filter drivers, knows no `working-tree-encoding`, reads no config from the
# environment (GIT_CONFIG_COUNT…) and ignores sparse checkout. Any of it: git resets.
_BYTE_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
_BYTE_CONFIG = ("filter.", "core.autocrlf", "core.eol", "core.attributesfile",
                "core.sparsecheckout", "include.", "includeif.")
_CONFIG_ENV = ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS")


def plain_bytes(repo: pygit2.Repository, tree: pygit2.Tree, paths: Iterable[str]) -> bool:
    """Whether libgit2 reads and writes `paths` as git would, byte for byte: no attributes,
    filter drivers, autocrlf, config from the environment or sparse checkout could apply."""
    if any(os.environ.get(name) for name in _CONFIG_ENV) or ".gitattributes" in tree:
        return False
    if any(entry.name.lower().startswith(_BYTE_CONFIG) for entry in repo.config):
        return False
    common = Path(repo.path)
    if (common / "commondir").is_file():
        common = (common / (common / "commondir").read_text().strip()).resolve()
    if (common / "info" / "attributes").exists() or (common / "info" / "sparse-checkout").exists():
        return False
    return not any(PurePosixPath(p).name == ".gitattributes" or any(
        repo.get_attr(p, name) is not None for name in _BYTE_ATTRIBUTES) for p in paths)
