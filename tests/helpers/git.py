"""`git` for tests: the one the demo and the benchmarks use (bot.commands.sandbox)."""

from __future__ import annotations

from bot.commands.sandbox import git, make_repos

__all__ = ["git", "make_repos"]
