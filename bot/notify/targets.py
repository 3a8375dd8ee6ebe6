"""Reports → people, through the apprise library: targets, routing by result, URL secrets.

Targets are the `[notify] urls` (each optionally prefixed with apprise tags, as in an
apprise text config: `failure,blocked=mailto://…`) and the services of the apprise
config file `[notify] config` (YAML or text, tags as apprise defines them).

Routing: a target without a routing tag receives every message. A target carrying
routing tags receives only the messages whose result or notify type is one of them:
`failure` (= `blocked`) gets only runs where nothing could be done, `warning` gets
`partial` and `waiting` runs, `success` (= `complete`) completed tasks, `progress` the
notification of a run past `limits.run_soft_limit`. Other tags are the user's own and do
not route.

apprise is imported on first use, so commands that send nothing (`plan`, the hook) do
not pay for its import.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from bot.config import NotifyConfig
from bot.text.mdescape import link_markup
from bot.text.textcap import REPORT_CAP, cap_document, clean, escape_controls

__all__ = [
    "CONNECT_TIMEOUT",
    "ROUTING_TAGS",
    "Delivery",
    "Message",
    "Target",
    "configured",
    "deliver",
    "notify_type",
    "secrets",
    "send",
    "split_tags",
    "targets",
    "url_secrets",
    "wants",
]

NOTIFY_TYPES = {
    "complete": "success",
    "partial": "warning",
    "waiting": "warning",
    "blocked": "failure",
    "progress": "info",
}
ROUTING_TAGS = frozenset({"success", "warning", "failure", *NOTIFY_TYPES})
CONNECT_TIMEOUT = 5.0  # seconds; apprise's SMTP default is 15
READ_TIMEOUT = 10.0
TITLE_CAP = 1 << 10  # bytes of a notification title (a body: textcap.REPORT_CAP)
MIN_SECRET = 3  # shorter "secrets" would blank out ordinary words everywhere

_TAGGED_RE = re.compile(
    r"^\s*(?P<tags>[\w-]+(?:\s*[,\s]\s*[\w-]+)*)\s*=\s*(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.*)$"
)
_TOKEN_SPLIT_RE = re.compile(r"([/?&=@:#,]+)")
_SECRET_KEY_RE = re.compile(
    r"(?i)token|secret|passw|^pass$|^pw$|apikey|api_key|^key$|authorization|signature|^sig$|credential"
)


@dataclass(frozen=True)
class Message:
    """One notification: already redacted Markdown, and the result it routes by."""

    title: str
    body: str
    result: str  # complete | partial | waiting | blocked | progress
    task: str = ""
    run_id: str = ""


@dataclass(frozen=True)
class Target:
    """One destination. `id` is a hash of the full URL (safe to store); `shown` is masked."""

    id: str
    shown: str
    tags: frozenset[str]
    service: Any  # apprise.NotifyBase


@dataclass(frozen=True)
class Delivery:
    """What one attempt achieved: targets reached now, and one line per target that was not."""

    delivered: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def _apprise() -> ModuleType:
    import apprise  # noqa: PLC0415 -- deferred: ~0.25 s that `plan` and the hook never need

    return apprise


def configured(config: NotifyConfig) -> bool:
    return bool(config.urls or config.config)


def notify_type(result: str) -> str:
    """apprise's notify type for a result: success, warning, failure (info for progress)."""
    return NOTIFY_TYPES.get(result, "info")


def wants(tags: Iterable[str], result: str) -> bool:
    """Does a target with these tags receive a message with this result?"""
    routing = {t.lower() for t in tags} & ROUTING_TAGS
    return not routing or result in routing or notify_type(result) in routing


def split_tags(entry: str) -> tuple[frozenset[str], str]:
    """`"failure,blocked=mailto://…"` → ({failure, blocked}, "mailto://…"); untagged as is."""
    found = _TAGGED_RE.match(entry)
    if not found:
        return frozenset(), entry.strip()
    tags = frozenset(t for t in re.split(r"[,\s]+", found["tags"]) if t)
    return tags, found["url"].strip()


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://…" if "://" in url else "(not a URL)"


def _target(service: Any, tags: Iterable[str]) -> Target:
    full = str(service.url(privacy=False))
    for name, short in (("socket_connect_timeout", CONNECT_TIMEOUT),
                        ("socket_read_timeout", READ_TIMEOUT)):
        default = getattr(type(service), name, None)
        if isinstance(default, int | float) and getattr(service, name, None) == default:
            setattr(service, name, min(float(default), short))  # left alone when set in the URL
    return Target(
        id=hashlib.sha256(full.encode()).hexdigest()[:16],
        shown=str(service.url(privacy=True)).split("?", 1)[0],  # without apprise's defaults
        tags=frozenset(str(t) for t in tags),
        service=service,
    )


def targets(config: NotifyConfig) -> tuple[tuple[Target, ...], tuple[str, ...]]:
    """The configured destinations, and one line per entry that cannot be used."""
    apprise = _apprise()
    found: list[Target] = []
    problems: list[str] = []
    for i, entry in enumerate(config.urls, 1):
        tags, url = split_tags(entry)
        service = apprise.Apprise.instantiate(url, tag=sorted(tags))
        if service is None:
            problems.append(f"notify.urls[{i}]: not a usable apprise URL ({_scheme(url)})")
        else:
            found.append(_target(service, tags))
    if config.config:
        path = Path(config.config)
        if not path.is_file():
            problems.append(f"notify.config: {path}: no such file")
        else:
            try:
                loaded = apprise.AppriseConfig()
                loaded.add(str(path))
                services = list(apprise.Apprise(loaded).find())
                why = "" if services else "no usable notification URL in it"
            except Exception as exc:  # apprise reports through return values; be sure
                services, why = [], f"{type(exc).__name__}: {exc}"
            if why:
                problems.append(f"notify.config: {path}: {why}")
            found.extend(_target(s, s.tags) for s in services)
    return tuple(found), tuple(problems)


class _Warnings(logging.Handler):
    """Collects what apprise logs while it sends: its only account of why a send failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def _apprise_warnings() -> Iterator[_Warnings]:
    handler = _Warnings()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _sized(message: Message) -> tuple[str, str]:
    """Title and body as sent: control characters escaped, sizes capped (a report is
    capped already; a progress message or an outbox entry from before may not be). The
    title names the task by its id, from a push: no link or HTML in it survives (the body
    is escaped where it is written, `report.to_markdown`, `progress`)."""
    title = clean(message.title, limit=TITLE_CAP, keep="", markup=link_markup)
    return title, cap_document(escape_controls(message.body), REPORT_CAP)


def _send_one(target: Target, message: Message) -> str:
    """"" when the target accepted the message, else why not (one line)."""
    apprise = _apprise()
    title, body = _sized(message)
    one = apprise.Apprise()
    one.add(target.service)
    with _apprise_warnings() as warnings:
        try:
            accepted = bool(one.notify(
                body=body,
                title=title,
                notify_type=apprise.NotifyType(notify_type(message.result)),
                body_format=apprise.NotifyFormat.MARKDOWN,
            ))
        except Exception as exc:  # a plugin bug must not lose the message
            return f"{target.shown}: {type(exc).__name__}: {exc}"
    if accepted:
        return ""
    why = warnings.lines[-1] if warnings.lines else "not accepted"
    return f"{target.shown}: {why}"


def deliver(message: Message, config: NotifyConfig,
            skip: Iterable[str] = ()) -> Delivery:
    """Send to every target that wants `message.result`, except those whose id is in `skip`.

    Never raises for a delivery problem: each target that did not take the message (apprise
    returned False, a timeout, an unusable URL) is one line of `errors`.
    """
    found, problems = targets(config)
    done = set(skip)
    delivered: list[str] = []
    errors = list(problems)
    for target in found:
        if target.id in done or not wants(target.tags, message.result):
            continue
        done.add(target.id)  # the same URL listed twice gets one copy
        error = _send_one(target, message)
        if error:
            errors.append(error)
        else:
            delivered.append(target.id)
    return Delivery(tuple(delivered), tuple(errors))


def send(report_md: str, title: str, result: str, config: NotifyConfig) -> bool:
    """Send a report now to every target that wants it; True only if all of them took it."""
    return deliver(Message(title, report_md, result), config).ok


# --- secrets of notification URLs --------------------------------------------------------


def _tokens(url: str) -> list[str]:
    return _TOKEN_SPLIT_RE.split(url)


def _masked_parts(full: str, private: str) -> Iterator[str]:
    """The parts of `full` that apprise masks in its privacy form (`a...z`, `****`)."""
    a, b = _tokens(full), _tokens(private)
    import difflib  # noqa: PLC0415 -- only when a target is down; `plan` needs none of it

    for op, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            yield from (t for t in a[i1:i2] if not _TOKEN_SPLIT_RE.fullmatch(t))


def _raw_parts(url: str) -> Iterator[str]:
    """Secrets visible in the URL as written: the password, secret-looking query values."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    if password:
        yield password
    for pair in parts.query.split("&"):
        key, _, raw = pair.partition("=")
        if raw and _SECRET_KEY_RE.search(unquote_plus(key)):
            value = unquote_plus(raw)
            yield from (raw, value, *value.split()[1:])  # "Bearer abc" → abc too


def url_secrets(urls: Iterable[str]) -> tuple[str, ...]:
    """The secret parts of apprise URLs (tokens in paths, passwords, secret query values).

    Both the URL-quoted and the plain form of each part, so either is redacted.
    """
    apprise = _apprise()
    found: list[str] = []
    for entry in urls:
        _, url = split_tags(entry)
        found.extend(_raw_parts(url))
        service = apprise.Apprise.instantiate(url)
        if service is not None:
            full = str(service.url(privacy=False))
            found.extend(_masked_parts(full, str(service.url(privacy=True))))
    both = (form for s in found for form in (s, unquote(s)))
    return tuple(dict.fromkeys(s for s in both if len(s) >= MIN_SECRET))


def secrets(config: NotifyConfig) -> tuple[str, ...]:
    """`url_secrets` of every configured target, those of the apprise config file included."""
    if not configured(config):
        return ()
    urls = list(config.urls)
    if config.config:
        found, _ = targets(NotifyConfig(config=config.config))
        urls.extend(str(t.service.url(privacy=False)) for t in found)
    return url_secrets(urls)
