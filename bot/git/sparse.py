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

from collections.abc import Sequence
from pathlib import Path

from bot.atomic import write_atomic
from bot.git.read import git
from bot.git.sparsefile import gitdir, holds, paths, patterns

__all__ = ["Shift", "holds", "narrow", "paths", "patterns", "widen"]


# the paths a sparse worktree held before `narrow` and holds after, as `paths` reads them
Shift = tuple["tuple[str, ...] | None", "tuple[str, ...] | None"]


def narrow(worktree: Path, keep: Sequence[str]) -> Shift:
    """The worktree's next checkout writes only the files at `keep` (and removes the
    others): the paths it held before (None: every file) and will hold (None: not
    `paths`' to read back)."""
    wanted = patterns(keep)
    file = gitdir(worktree) / "info" / "sparse-checkout"
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


def widen(worktree: Path) -> bool:
    """A sparse worktree made whole again (a handler's checkout reads every file); True
    when it was sparse."""
    file = gitdir(worktree) / "info" / "sparse-checkout"
    if not file.exists():
        return False
    git(["sparse-checkout", "disable"], worktree)
    file.unlink(missing_ok=True)
    return True
