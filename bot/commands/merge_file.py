"""`taskbot merge-file`: git's merge driver for task files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import TaskbotError

if TYPE_CHECKING:
    import argparse


class MergeFileError(TaskbotError):
    """`merge-file` could not merge at all: git reads any exit but 0 as "conflicts left"."""

    exit_code = 2


def command(args: argparse.Namespace) -> int:
    """git's `%O %A %B %P`: exit 0 merged, 1 with conflict markers, 2 when it could not merge."""
    from bot.taskfile.merge import merge
    from bot.taskfile.save import write as write_task

    sides = []
    for name in (args.base, args.ours, args.theirs):
        try:
            sides.append(Path(name).read_bytes())
        except OSError as exc:
            raise MergeFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        merged = merge(sides[0], sides[1], sides[2], args.path)
        write_task(args.ours, merged.data)
    except TaskbotError as exc:
        raise MergeFileError(str(exc)) from None
    return 1 if merged.conflicts else 0
