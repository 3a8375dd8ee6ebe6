"""Redaction: secrets and URL passwords replaced with `***` in everything taskbot records."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Redactor"]

# scheme://user:password@host -> scheme://user:***@host (user may be empty)
_USERINFO_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#]+(?=@)")


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets and URL passwords with `***`."""

    secrets: tuple[str, ...] = ()

    def __call__(self, text: str) -> str:
        # longest first, so a secret containing another is replaced whole
        for secret in sorted({s for s in self.secrets if s}, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _USERINFO_RE.sub(r"\g<head>***", text)

    def with_secrets(self, *more: str) -> Redactor:
        added = tuple(s for s in more if s and s not in self.secrets)
        return Redactor(self.secrets + tuple(dict.fromkeys(added)))
