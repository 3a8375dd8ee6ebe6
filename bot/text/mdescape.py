"""Text from a push inside Markdown taskbot writes: it renders as the text it is, never as markup.

A task id, a title, a file name or a criterion comes from whoever pushed. Put raw into a
report, a notification or the dashboard, `<img src=…>` loads a tracking pixel, `<details>`
hides the rest of the page, `[x](http://…)` is a link, a newline followed by `# ✅ …` a
heading, and a `|` breaks a table row. Every such field goes through `inline` (or `cell`,
`link_target`; `markup` inside `textcap.clean`) where it is written; the Markdown around
it is taskbot's own.

What is escaped: the characters Markdown gives a meaning within a line (backslash,
backtick, `*`, `_`, `[`, `]`, `|`, `~`) with a backslash, `<` and `>` as HTML entities (the
one form every renderer, and a receiver showing the Markdown as it is, leaves as text);
then control characters, line breaks and lone surrogates as `textcap.escape_controls`
writes them. Its backslashes stand before a letter (`\\x1b`, `\\n`), which Markdown leaves
as it is, and are not doubled.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.text.textcap import display_name

__all__ = ["EMPTY_CELL", "cell", "code_span", "inline", "link_markup", "link_target", "markup"]

_MARKUP_RE = re.compile(r"[\\`*_\[\]|~<>]")
_LINK_OR_HTML_RE = re.compile(r"[\\\[\]<>]")  # what makes a link, an image or HTML
_ENTITY = {"<": "&lt;", ">": "&gt;"}
EMPTY_CELL = "—"


def markup(text: str) -> str:
    """`text` with what Markdown and HTML would read as markup escaped; controls left."""
    return _MARKUP_RE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return _ENTITY.get(found[0], "\\" + found[0])


def link_markup(text: str) -> str:
    """`markup` for a notification title: only links, images and HTML escaped. A title is
    plain text mostly (an e-mail's subject), so `TASK_1` stays as it is; a service without
    titles puts it in the body as a heading, where emphasis at worst is formatting."""
    return _LINK_OR_HTML_RE.sub(_escape, text)


def inline(text: str) -> str:
    """`text` as one line of Markdown that renders as exactly this text."""
    return display_name(markup(text))


def cell(text: str) -> str:
    """`text` as a table cell: one line, `|` escaped, runs of blanks as one; `—` when empty."""
    return inline(" ".join(text.split())) or EMPTY_CELL


def code_span(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds; one line. Markdown and
    HTML mean nothing inside one."""
    text = " ".join(text.splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{display_name(text)}{pad}{fence}"


def link_target(path: str) -> str:
    """A relative path as a link target: every byte but letters, digits and `/-._~`
    percent-encoded, so `)`, a blank or `javascript:` cannot end or redirect the link."""
    return quote(display_name(path), safe="/")
