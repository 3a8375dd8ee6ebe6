"""`taskbot serve`: the daemon, with the configured handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.common import load_config, require_trust

if TYPE_CHECKING:
    import argparse


def command(args: argparse.Namespace) -> int:
    from bot.daemon import serve as daemon
    from bot.plugin.plugins import load_handlers

    config = load_config(args.config, required=True)
    require_trust(config)
    return daemon.serve(config, load_handlers())
