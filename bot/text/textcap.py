"""Text from tasks and commands, made safe to record: control characters escaped, sizes capped.

Everything taskbot writes for people (commit messages, notes, reports, notifications)
holds text it does not control: a criterion's words, a command's output, a reason a
handler gave. A NUL byte makes `git commit` refuse a message, an escape sequence can
repaint a terminal, and a megabyte line makes a note or an e-mail unusable.

A lone surrogate cannot be encoded at all: pygit2 hands a file name that is not UTF-8 over
with its bytes as surrogates (`bad-\\xff.md` → `"bad-\\udcff.md"`), and YAML's `"\\uD800"`
makes one. Escaped like a control character, every string written is encodable.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["FIELD_CAP", "REPORT_CAP", "cap", "cap_document", "clean", "display_name",
           "escape_controls", "escape_surrogates", "name_problem"]

FIELD_CAP = 4 << 10  # bytes of one text field: a criterion, a reason, an output line
REPORT_CAP = 256 << 10  # bytes of a whole Markdown report (note, notification body)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SURROGATES = "\ud800-\udfff"  # category Cs: never encodable
# The bidi controls (embeddings, overrides, isolates, marks): a name or id holding U+202E
# shows its text reversed, so `TASK-1.md` on a terminal or in a report can be another file.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_RE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_SURROGATES}]")  # Cc, Cs, bidi
_LINE_BREAKING_RE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]")  # Zl, Zp
_SURROGATE_RE = re.compile(f"[{_SURROGATES}]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape: the byte 0x80..0xff it stands for


def _escaped(ch: str) -> str:
    """One character as an escape: `\\n`, `\\x1b`, `\\u2028`; a byte that was not UTF-8
    (surrogateescape) as that byte, `\\xff`."""
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code in _ESCAPED_BYTES:
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "\n\t", *, one_line: bool = False) -> str:
    """`text` with every control character (Unicode category Cc) and bidi control but those
    in `keep`, and every lone surrogate, written as an escape: `\\x00`, `\\x1b`, `\\r`,
    `\\u202e`, `\\xff`;
    `one_line`: the line and paragraph separators too (a commit message line must stay
    one line)."""
    pattern = _LINE_BREAKING_RE if one_line else _CONTROL_RE
    return pattern.sub(lambda m: m[0] if m[0] in keep else _escaped(m[0]), text)


def escape_surrogates(text: str) -> str:
    """`text` with only its lone surrogates escaped: encodable, nothing else changed."""
    return _SURROGATE_RE.sub(lambda m: _escaped(m[0]), text)


def display_name(name: str) -> str:
    """A path or name from a push, as one printable, encodable line: `bad-\\xff.md`,
    `a\\nb.md`, `\\x1b]0;x.md`."""
    return escape_controls(name, keep="", one_line=True)


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
          keep: str = "\n\t", keep_end: bool = False, markup: Callable[[str], str] = str
          ) -> str:
    """One field as recorded: redacted first (a cut must not leave half a secret), capped,
    control characters escaped (bytes cut are counted in the escaped form where it is
    longer). Only a window of `limit` characters is escaped: enough for `limit` bytes,
    and a field of megabytes of NUL bytes costs no more than a short one. `markup`: the
    escaping of the format the field is written in (`mdescape.markup`), applied before
    the control characters' escapes, whose backslashes are taskbot's own.
    """
    whole = redact(text)
    window = whole[-limit:] if keep_end else whole[:limit]
    outside = 0
    if len(window) < len(whole):
        outside = (len(whole.encode("utf-8", errors="surrogatepass"))
                   - len(window.encode("utf-8", errors="surrogatepass")))
    return cap(escape_controls(markup(window), keep), limit, keep_end=keep_end,
               cut_before=outside)


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


def name_problem(path: str) -> str:
    """"" for a file name taskbot can show as it is; else why such a file is refused (the
    name itself is not in it: it cannot be shown as it is)."""
    if display_name(path) == path:
        return ""
    if escape_surrogates(path) != path:
        return "the file name is not UTF-8"
    return "the file name holds a control character or line break"
