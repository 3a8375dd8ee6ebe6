"""Text from tasks and commands, made safe to record: control characters escaped, sizes capped.

Everything taskbot writes for people (commit messages, notes, reports, notifications)
holds text it does not control: a criterion's words, a command's output, a reason a
handler gave. A NUL byte makes `git commit` refuse a message, an escape sequence can
repaint a terminal, and a megabyte line makes a note or an e-mail unusable.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["FIELD_CAP", "REPORT_CAP", "cap", "cap_document", "clean", "escape_controls"]

FIELD_CAP = 4 << 10  # bytes of one text field: a criterion, a reason, an output line
REPORT_CAP = 256 << 10  # bytes of a whole Markdown report (note, notification body)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly
_LINE_BREAKING_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # and Zl, Zp


def _escaped(ch: str) -> str:
    """One character as an escape: `\\n`, `\\x1b`, `\\u2028`."""
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def escape_controls(text: str, keep: str = "\n\t", *, one_line: bool = False) -> str:
    """`text` with every control character (Unicode category Cc) but those in `keep`
    written as an escape: `\\x00`, `\\x1b`, `\\r`; `one_line`: the line and paragraph
    separators too (a commit message line must stay one line)."""
    pattern = _LINE_BREAKING_RE if one_line else _CONTROL_RE
    return pattern.sub(lambda m: m[0] if m[0] in keep else _escaped(m[0]), text)


def cap(text: str, limit: int = FIELD_CAP, *, keep_end: bool = False, cut_before: int = 0
        ) -> str:
    """`text` cut to about `limit` UTF-8 bytes, saying how much was cut.

    The head is kept (`keep_end`: the tail, for command output whose last lines count).
    `cut_before`: bytes the caller already left out of `text`, added to the count.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) <= limit and not cut_before:
        return text
    if len(data) <= limit:
        kept = text
    elif keep_end:
        kept = data[len(data) - limit :].decode("utf-8", errors="ignore")
    else:
        kept = data[:limit].decode("utf-8", errors="ignore")
    cut = cut_before + len(data) - len(kept.encode("utf-8", errors="surrogatepass"))
    return f"({cut} bytes cut) …{kept}" if keep_end else f"{kept}… ({cut} bytes cut)"


def clean(text: str, redact: Callable[[str], str] = str, limit: int = FIELD_CAP, *,
          keep: str = "\n\t", keep_end: bool = False) -> str:
    """One field as recorded: redacted first (a cut must not leave half a secret), capped,
    control characters escaped (bytes cut are counted in the escaped form where it is
    longer). Only a window of `limit` characters is escaped: enough for `limit` bytes,
    and a field of megabytes of NUL bytes costs no more than a short one.
    """
    whole = redact(text)
    window = whole[-limit:] if keep_end else whole[:limit]
    outside = 0
    if len(window) < len(whole):
        outside = (len(whole.encode("utf-8", errors="surrogatepass"))
                   - len(window.encode("utf-8", errors="surrogatepass")))
    return cap(escape_controls(window, keep), limit, keep_end=keep_end, cut_before=outside)


def cap_document(text: str, limit: int = REPORT_CAP) -> str:
    """A whole document cut to `limit` bytes at a line end, with a last line saying so."""
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) <= limit:
        return text
    head = data[: limit - 64]
    head = head[: head.rfind(b"\n") + 1] if b"\n" in head else head
    kept = head.decode("utf-8", errors="ignore")
    cut = len(data) - len(kept.encode("utf-8", errors="surrogatepass"))
    return f"{kept}… ({cut} bytes cut: larger than {limit >> 10} KiB)\n"
