"""A criterion waiting for a person's approval, as reports, status and the dashboard show it.

A leaf record (no import): `bot.run.approval` makes them, `bot.run.report` carries them.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Pending", "approve_hint"]


class Pending(NamedTuple):
    """A criterion waiting for approval: what a person reads before approving."""

    criterion: int  # its index in the task
    text: str
    digest: str  # "" when its plan could not be made: nothing can approve it
    plan: tuple[str, ...]  # one line each: commands, files, preconditions, then, inputs


def approve_hint(task_id: str) -> str:
    """How a person approves the task's plans, as the reports say it."""
    return f"`taskbot approve {task_id}`"
