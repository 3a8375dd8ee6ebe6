"""Commit messages: built (and read) in one place, by `git interpret-trailers` rules.

A message is a one-line subject, a blank line, the body, a blank line and the trailer
block: `Key: value` lines that git (and `bot.git.trust`) read back. Every line we write
stays one line: control characters in a subject, body line or value are escaped, so no
text taken from a task or a file can end a paragraph or forge a trailer (nor hold a NUL
byte, which `git commit` refuses). Every line is capped (`bot.text.textcap`): a huge criterion
or reason makes a long line, never a commit that fails after the command ran.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.run.report import Report
from bot.run.runmodel import CriterionState
from bot.text.textcap import FIELD_CAP, cap, escape_controls

__all__ = ["APPROVE_TRAILER", "RUN_TRAILER", "approval", "approvals", "build", "parse_trailers",
           "task_commit"]

RUN_TRAILER = "Taskbot-Run"  # marks taskbot's own commits (with its identity)
APPROVE_TRAILER = "Taskbot-Approve"  # `<TASK-ID> <digest>`: a person approves a plan
_APPROVE_RE = re.compile(r"(?i)" + APPROVE_TRAILER + r":[ \t]*(\S+)[ \t]+([0-9a-f]{8,64})[ \t]*")

_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
SUBJECT_CAP = 1 << 10  # bytes
def _escape(text: str) -> str:
    """`text` as one line: control and line-separator characters written as escapes."""
    return escape_controls(text, keep="", one_line=True)


def build(subject: str, body_lines: Sequence[str], trailers: Mapping[str, str]) -> str:
    """subject, blank line, body, blank line, `Key: value` trailers; ends with a newline.

    Raises ValueError for an empty subject or a key git would not read as a trailer token.
    """
    head = cap(_escape(subject).strip(), SUBJECT_CAP)
    if not head:
        raise ValueError("commit message: empty subject")
    for key in trailers:
        if not _TOKEN_RE.fullmatch(key):
            raise ValueError(f"commit message: {key!r} is not a trailer key")
    paragraphs = [head]
    if body_lines:
        paragraphs.append("\n".join(cap(_escape(line), 2 * FIELD_CAP) for line in body_lines))
    if trailers:
        paragraphs.append("\n".join(f"{k}: {cap(_escape(v).strip(), FIELD_CAP)}"
                                     for k, v in trailers.items()))
    return "\n\n".join(paragraphs) + "\n"


_TRAILER_LINE_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)")


def _paragraphs(message: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in message.splitlines():
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def parse_trailers(message: str) -> dict[str, str]:
    """The trailer block: the last paragraph, after the subject's, when each of its lines
    is `Key: value`; {} otherwise. A key given twice keeps its last value."""
    paragraphs = _paragraphs(message)
    if len(paragraphs) < 2:
        return {}
    trailers: dict[str, str] = {}
    for line in paragraphs[-1]:
        match = _TRAILER_LINE_RE.fullmatch(line)
        if match is None:
            return {}
        trailers[match[1]] = match[2].strip()
    return trailers


def task_commit(report: Report, triggered_by: str) -> str:
    """taskbot's commit of one run: what it ticked or not and why, then its trailers."""
    body: list[str] = []
    for r in report.results:
        if not r.attempted:
            continue
        done = r.state is CriterionState.DONE
        body.append(f"- [{'x' if done else ' '}] {r.action.criterion.text}")
        if not done:
            body.append(f"      {r.state.value}: {r.reason}")
    subject = (f"taskbot({report.task.id}): {report.result}, {report.done}/{report.total} "
               "criteria done")
    return build(subject, body, {
        "Task-Id": report.task.id,
        "Task-Result": report.result,
        "Criteria-Done": f"{report.done}/{report.total}",
        "Triggered-By": triggered_by,
        RUN_TRAILER: report.run_id,
    })


def approvals(message: str) -> tuple[tuple[str, str], ...]:
    """Every `Taskbot-Approve: <TASK-ID> <digest>` of the message's trailer block, in order
    (a commit may approve several plans); () when it has none. Only the trailer block
    counts, as git reads trailers: a line quoted in a body approves nothing."""
    paragraphs = _paragraphs(message)
    if len(paragraphs) < 2 or not all(_TRAILER_LINE_RE.fullmatch(line)
                                      for line in paragraphs[-1]):
        return ()
    found = (_APPROVE_RE.fullmatch(line) for line in paragraphs[-1])
    return tuple(dict.fromkeys((m[1], m[2].lower()) for m in found if m is not None))


def approval(task_id: str, digests: Sequence[str]) -> str:
    """The message of a person's approval commit (`taskbot approve`): one trailer a plan."""
    if not digests:
        raise ValueError("commit message: nothing to approve")
    lines = "\n".join(f"{APPROVE_TRAILER}: {_escape(task_id)} {d}" for d in digests)
    return (f"Approve {cap(_escape(task_id), SUBJECT_CAP)}: "
            f"plan{'s' if len(digests) > 1 else ''} {', '.join(digests)}\n\n{lines}\n")
