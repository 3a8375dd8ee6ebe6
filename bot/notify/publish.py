"""After a run: keep its report under state_dir and hand it to the outbox for delivery.

Shared by `taskbot run` and the daemon, so both store, redact and deliver alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.notify import reportstore
from bot.notify import targets as notify
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from bot.proc import Redactor
from bot.run.report import Report, to_json, to_markdown


@dataclass(frozen=True)
class Published:
    stored: bool
    delivered: bool | None  # None: nothing to send (no URLs, or not asked to)
    problem: str = ""


def publish(config: Config, report: Report, redact: Redactor, *, send: bool,
            deliver_now: bool = True, store_as: str = "") -> Published:
    """Store the report; enqueue its notification and, if asked, try it at once.

    Problems are returned, not raised: a report that cannot be delivered now stays in
    the outbox, and the daemon retries it. `store_as`: the name it is kept under, when
    not its task's id.
    """
    state = config.repo.state_dir
    markdown, doc = to_markdown(report, redact), to_json(report, redact)
    try:
        reportstore.save(state, store_as or report.task.id, report.run_id, markdown, doc)
        if not (send and notify.configured(config.notify)):
            return Published(True, None)
        message = Message(report.title, markdown, report.result, report.task.id, report.run_id)
        outbox = Outbox(state, config.notify)
        if not deliver_now:
            outbox.enqueue(message)
            return Published(True, False)
        left = outbox.send(message)
    except OSError as exc:
        return Published(False, None, f"cannot keep the report under {state}: "
                                      f"{exc.strerror or exc}")
    if left is None:
        return Published(True, True)
    return Published(True, False, f"report not delivered yet; kept in {state}/outbox, "
                                  f"retried by the daemon: {left.last_error}")


def publish_report(config: Config, report: Report, redact: Redactor, *,
                   store_as: str = "") -> str:
    """Keep the report and queue its notification for the daemon's outbox; '' when fine."""
    if not (any(r.attempted for r in report.results) or report.notes or report.awaiting):
        return ""  # nothing ran and nobody is asked for anything: nothing to say
    return publish(config, report, redact, send=True, deliver_now=False,
                   store_as=store_as).problem
