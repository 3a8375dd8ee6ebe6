"""A run journal for tests (`bot.run.runner.Journal`): it records nothing and knows of no
earlier run; a test overrides the one step it is about."""

from __future__ import annotations

from typing import Any

from bot.api import Outcome

__all__ = ["Forgetful"]


class Forgetful:
    def recorded(self, identity: str, occurrence: int) -> Any:
        return None

    def was_interrupted(self, identity: str, occurrence: int) -> bool:
        return False

    def started(self, identity: str, occurrence: int) -> None:
        pass

    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None:
        pass
