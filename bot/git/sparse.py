"""Which files of a repository taskbot's worktree holds: all, or only the paths a run names.

Issue 17: nothing a push brings may fill the disk. A full checkout writes whatever the
pushed tip holds (2,000 paths naming one 1 MiB blob are 2 GB on disk, from a 200-byte
push), so the worktree of the tasks repository is a sparse checkout holding only what a
run reads or writes there: its task file, where a complete task moves, the dashboard.
Git's own sparse checkout (non-cone patterns, in the worktree's config and git dir) so
that every git command run there respects it; libgit2 does not, so the in-process reset
and commit decline in such a worktree (`bot.git.plainbytes`) and git does them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bot.atomic import write_atomic
from bot.git.read import git

__all__ = ["Shift", "holds", "narrow", "paths", "patterns", "widen"]

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


# the paths a sparse worktree held before `narrow` and holds after, as `paths` reads them
Shift = tuple["tuple[str, ...] | None", "tuple[str, ...] | None"]


def narrow(worktree: Path, keep: Sequence[str]) -> Shift:
    """The worktree's next checkout writes only the files at `keep` (and removes the
    others): the paths it held before (None: every file) and will hold (None: not
    `paths`' to read back)."""
    wanted = patterns(keep)
    file = _gitdir(worktree) / "info" / "sparse-checkout"
    try:
        text: str | None = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
        # the config first: the patterns file is the mark that both are there
        git(["config", "extensions.worktreeConfig", "true"], worktree)
        git(["config", "--worktree", "core.sparseCheckout", "true"], worktree)
        git(["config", "--worktree", "core.sparseCheckoutCone", "false"], worktree)
    if text != wanted:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, wanted.encode("utf-8"), 0o644)
    return (paths(text) if text is not None else None), paths(wanted)


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
        lines = set((_gitdir(worktree) / "info" / "sparse-checkout").read_text("utf-8")
                    .splitlines())
    except (OSError, UnicodeDecodeError):
        return False
    return bool(paths) and set(patterns(paths).splitlines()) <= lines


def widen(worktree: Path) -> bool:
    """A sparse worktree made whole again (a handler's checkout reads every file); True
    when it was sparse."""
    file = _gitdir(worktree) / "info" / "sparse-checkout"
    if not file.exists():
        return False
    git(["sparse-checkout", "disable"], worktree)
    file.unlink(missing_ok=True)
    return True


def _gitdir(worktree: Path) -> Path:
    """The worktree's own git dir (`.git/worktrees/<name>` of the clone): what `git
    worktree add` wrote in its `.git` file, which no push can change."""
    dotgit = worktree / ".git"
    if dotgit.is_dir():
        return dotgit
    text = dotgit.read_text(encoding="utf-8").strip()
    found = Path(text.removeprefix("gitdir:").strip())
    return found if found.is_absolute() else (worktree / found).resolve()
