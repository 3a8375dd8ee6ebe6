"""Redaction: secrets and URL passwords replaced with `***` in everything taskbot records."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Redactor"]

# scheme://user:password@host -> scheme://user:***@host (user may be empty)
_USERINFO_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#]+(?=@)")


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets and URL passwords with `***`."""

    secrets: tuple[str, ...] = ()
    # secrets that cost an import to find (apprise's, for notification URLs): found on the
    # first redaction, so a command that never redacts (`plan`) never pays for them
    found_later: Callable[[], tuple[str, ...]] | None = field(default=None, compare=False,
                                                                repr=False)

    @functools.cached_property
    def _longest_first(self) -> tuple[str, ...]:
        every = self.secrets + (self.found_later() if self.found_later else ())
        # longest first, so a secret containing another is replaced whole
        return tuple(sorted({s for s in every if s}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._longest_first:
            text = text.replace(secret, "***")
        return _USERINFO_RE.sub(r"\g<head>***", text)

    def with_secrets(self, *more: str) -> Redactor:
        added = tuple(s for s in more if s and s not in self.secrets)
        return Redactor(self.secrets + tuple(dict.fromkeys(added)), self.found_later)
