"""`taskbot hook post-receive`: queue the push read on stdin (what the git hook runs)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def command(args: argparse.Namespace) -> int:
    from bot.daemon import hook as hookinstall

    return hookinstall.run_hook(args.config, sys.stdin)
