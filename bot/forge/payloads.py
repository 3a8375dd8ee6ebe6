"""What a forge's webhook request means: signature check and event classification.

Pure functions of (headers, body): no sockets, no files, so that every forge's shape is
tested without a server. The payload is only a wake-up: nothing in it is trusted beyond
"the branch may have moved"; the daemon fetches and computes the range itself.

Headers by forge (Forgejo also sends Gitea's, Gitea also sends GitHub's):

| forge   | signature                                | event                   | delivery id           |
|---------|------------------------------------------|-------------------------|-----------------------|
| GitHub  | `X-Hub-Signature-256: sha256=<hex>`       | `X-GitHub-Event: push`  | `X-GitHub-Delivery`   |
| Gitea   | `X-Gitea-Signature: <hex>`                | `X-Gitea-Event: push`   | `X-Gitea-Delivery`    |
| Forgejo | `X-Forgejo-Signature: <hex>`              | `X-Forgejo-Event: push` | `X-Forgejo-Delivery`  |
| GitLab  | `X-Gitlab-Token: <the secret itself>`     | `X-Gitlab-Event: Push Hook` | `X-Gitlab-Event-UUID` |
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["Decision", "Headers", "classify", "delivery_id", "signature_ok", "token_ok", "wake_line"]

ZERO_SHA = "0" * 40
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_DELIVERY_RE = re.compile(r"[0-9A-Za-z._:-]{1,128}")

# Most specific first: a Forgejo request carries Gitea's and GitHub's headers as well.
_HMAC_HEADERS = ("X-Forgejo-Signature", "X-Gitea-Signature", "X-Hub-Signature-256")
_EVENT_HEADERS = ("X-Forgejo-Event", "X-Gitea-Event", "X-GitHub-Event", "X-Gitlab-Event")
_DELIVERY_HEADERS = ("X-Forgejo-Delivery", "X-Gitea-Delivery", "X-GitHub-Delivery",
                     "X-Gitlab-Event-UUID")
_PUSH_EVENTS = frozenset({"push", "Push Hook"})
_PING_EVENTS = frozenset({"ping"})


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request headers (the first value of each name)."""

    def __init__(self, pairs: Mapping[str, str] | list[tuple[str, str]]) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._d: dict[str, str] = {}
        for key, value in items:
            self._d.setdefault(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


def _first(headers: Headers, names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in headers:
            return headers[name].strip()
    return None


def _raw(value: str) -> bytes:
    # http.client parses header values as latin-1: this gives back the bytes sent.
    return value.encode("latin-1", errors="replace")


def _hmac_ok(name: str, value: str, body: bytes, secret: bytes) -> bool:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    expected = f"sha256={digest}" if name == "X-Hub-Signature-256" else digest
    return hmac.compare_digest(expected.encode(), _raw(value.strip().lower()))


def token_ok(headers: Headers, secret: bytes) -> bool | None:
    """GitLab's token check, possible before the body is read; None: not a token request."""
    if any(name in headers for name in _HMAC_HEADERS) or "X-Gitlab-Token" not in headers:
        return None
    return hmac.compare_digest(secret, _raw(headers["X-Gitlab-Token"]))


def signature_ok(headers: Headers, body: bytes, secret: bytes) -> bool:
    """True when the request carries a valid signature (or GitLab token) for `secret`."""
    if not secret:
        return False
    for name in _HMAC_HEADERS:
        if name in headers:
            return _hmac_ok(name, headers[name], body, secret)
    return bool(token_ok(headers, secret))


def delivery_id(headers: Headers) -> str | None:
    """The forge's delivery id; '' when the header is there but not a plausible id."""
    value = _first(headers, _DELIVERY_HEADERS)
    if value is None:
        return None
    return value if _DELIVERY_RE.fullmatch(value) else ""


@dataclass(frozen=True)
class Decision:
    """What to answer: `status`, a one-line `reason`, and `after` when a push is to be queued."""

    status: int
    reason: str
    after: str = ""


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def classify(headers: Headers, body: bytes, branch_ref: str) -> Decision:
    """A signed request's meaning: a push to `branch_ref` to queue, or why it is not one."""
    event = _first(headers, _EVENT_HEADERS)
    if event in _PING_EVENTS:
        return Decision(200, "pong")
    if event not in _PUSH_EVENTS:
        return Decision(202, f"ignored: not a push event ({(event or 'none')[:40]!r})")
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return Decision(415, "the webhook's content type must be application/json")
    payload = _json_object(body)
    if payload is None:
        return Decision(400, "the body is not a JSON object")
    return _push(payload, branch_ref)


def _push(payload: dict[str, object], branch_ref: str) -> Decision:
    ref, after = payload.get("ref"), payload.get("after")
    if ref != branch_ref:
        return Decision(202, f"ignored: not a push to {branch_ref}")
    if not isinstance(after, str) or not _SHA_RE.fullmatch(after):
        return Decision(400, "the payload's 'after' is not a commit id")
    if set(after) == {"0"}:
        return Decision(202, f"ignored: {branch_ref} was deleted")
    return Decision(202, "queued", after=after)


def wake_line(after: str, branch_ref: str) -> str:
    """The spool line for a push: a wake-up only, the daemon computes the range itself."""
    return f"{ZERO_SHA} {after} {branch_ref}"
