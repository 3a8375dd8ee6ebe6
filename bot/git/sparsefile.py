"""What a sparse-checkout file of taskbot's says: the patterns for a list of paths, and
the paths back (`bot.git.sparse` writes them and has git apply them). No git process here:
the in-process commit asks `holds` on its way (`bot.git.commitpaths`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["gitdir", "holds", "paths", "patterns"]

# what gitignore syntax reads as other than itself; a line break cannot be written in a
# pattern, and `?` matches it (and one other character at most: a file or two more)
_SPECIAL = re.compile(r"([\\*?\[\]!# ])")
_BREAK = re.compile(r"[\r\n]")


def patterns(keep: Sequence[str]) -> str:
    """The sparse-checkout file holding exactly the files at `keep`: each path anchored at
    the top, and never a folder by that name (a push can make `x.md` a folder of 2,000)."""
    lines: list[str] = []
    for path in dict.fromkeys(p.strip("/") for p in keep if p.strip("/")):
        escaped = _BREAK.sub("?", _SPECIAL.sub(r"\\\1", path))
        lines += [f"/{escaped}", f"!/{escaped}/"]
    return "".join(f"{line}\n" for line in lines)


def paths(text: str) -> tuple[str, ...] | None:
    """The paths a sparse-checkout file `patterns` wrote names; None when it is not all
    `patterns`' to read back (a line break in a path): then git resets the worktree."""
    found: list[str] = []
    for line in text.splitlines()[::2]:
        path = _unescaped(line[1:]) if line.startswith("/") else None
        if path is None:
            return None
        found.append(path)
    return tuple(found) if patterns(found) == text else None


def _unescaped(pattern: str) -> str | None:
    """The path `patterns` escaped into `pattern`; None where a `?` stands for a break."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "?":
            return None
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def holds(worktree: Path, paths: Sequence[str]) -> bool:
    """Whether the worktree is sparse and holds every one of `paths` (its patterns name
    each, as `narrow` wrote them): then a commit of those paths in process is git's, and
    none of them is a file the checkout left out (which a commit would take as removed)."""
    try:
        lines = set((gitdir(worktree) / "info" / "sparse-checkout").read_text("utf-8")
                    .splitlines())
    except (OSError, UnicodeDecodeError):
        return False
    return bool(paths) and set(patterns(paths).splitlines()) <= lines


def gitdir(worktree: Path) -> Path:
    """The worktree's own git dir (`.git/worktrees/<name>` of the clone): what `git
    worktree add` wrote in its `.git` file, which no push can change."""
    dotgit = worktree / ".git"
    if dotgit.is_dir():
        return dotgit
    text = dotgit.read_text(encoding="utf-8").strip()
    found = Path(text.removeprefix("gitdir:").strip())
    return found if found.is_absolute() else (worktree / found).resolve()
