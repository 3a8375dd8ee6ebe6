"""`taskbot serve`: the daemon, with the configured handlers, over the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.common import load_config, require_trust

if TYPE_CHECKING:
    import argparse


def command(args: argparse.Namespace) -> int:
    import pygit2

    from bot.daemon.backend import pipeline_backend
    from bot.daemon.logline import log
    from bot.daemon.serve import Daemon
    from bot.plugin.plugins import load_handlers

    config = load_config(args.config, required=True)
    require_trust(config)
    # libgit2's object cache keeps what a repository read after the repository is gone:
    # ~20 KB more resident memory per push, for good, in a process that runs for months.
    # Every read here opens its repository afresh, so the cache saves nothing (measured:
    # 4 KB a push without it, and no slower).
    pygit2.settings.enable_caching(False)
    daemon = Daemon(config, pipeline_backend(config, load_handlers(), log))
    daemon.install_signal_handlers()
    return daemon.run()
