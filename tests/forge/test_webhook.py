"""The webhook receiver over real HTTP on 127.0.0.1: each forge's headers and payload
(tests/kit/data/webhooks/), signed right and wrong; what reaches the real spool."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.daemon import spool
from bot.forge.webhook import (
    KEEP_DELIVERIES,
    MAX_BODY,
    DeliveryLog,
    Settings,
    WebhookError,
    WebhookServer,
    parse_listen,
    read_secret,
    start,
)

FIXTURES = Path(__file__).parents[1] / "kit" / "data" / "webhooks"
SECRET = b"s3cr3t-webhook-token-for-tests-0123"
BRANCH = "refs/heads/main"
ZERO = "0" * 40


def body_of(name: str, **changes: object) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    if not changes:
        return raw
    data = json.loads(raw)
    data.update(changes)
    return json.dumps(data).encode()


def hexmac(body: bytes, secret: bytes = SECRET) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def github(body: bytes, delivery: str, event: str = "push", secret: bytes = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-GitHub-Hook-ID": "98765432",
            "X-Hub-Signature-256": f"sha256={hexmac(body, secret)}",
            "User-Agent": "GitHub-Hookshot/4f3a2b1", "Content-Type": "application/json"}


def gitea(body: bytes, delivery: str, event: str = "push", secret: bytes = SECRET) -> dict[str, str]:
    sig = hexmac(body, secret)
    return {"X-Gitea-Event": event, "X-Gitea-Event-Type": event, "X-Gitea-Delivery": delivery,
            "X-Gitea-Signature": sig, "X-Gogs-Event": event, "X-Gogs-Delivery": delivery,
            "X-Gogs-Signature": sig, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={sig}", "Content-Type": "application/json"}


def forgejo(body: bytes, delivery: str, event: str = "push", secret: bytes = SECRET) -> dict[str, str]:
    sig = hexmac(body, secret)
    return {**gitea(body, delivery, event, secret), "X-Forgejo-Event": event,
            "X-Forgejo-Event-Type": event, "X-Forgejo-Delivery": delivery,
            "X-Forgejo-Signature": sig}


def gitlab(_body: bytes, delivery: str, event: str = "Push Hook",
           secret: bytes = SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": delivery,
            "X-Gitlab-Webhook-UUID": "0b9f7c2e-8a51-4e0a-9a0e-2f6d1c3b4a5e",
            "X-Gitlab-Instance": "https://gitlab.example.com", "X-Gitlab-Token": secret.decode(),
            "User-Agent": "GitLab/16.11.6", "Content-Type": "application/json"}


FORGES = {
    "github": (github, "github-push.json", "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5"),
    "gitea": (gitea, "gitea-push.json", "bffeb74224043ba2feb48d137756c8a9331c449a"),
    "forgejo": (forgejo, "forgejo-push.json", "3c1f6ad2e0bb0a4e2c3e5a1b7c9d8e0f1a2b3c4d"),
    "gitlab": (gitlab, "gitlab-push.json", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
}


@dataclass
class Listener:
    server: WebhookServer
    state: Path
    logged: list[str]

    def post(self, body: bytes, headers: dict[str, str], path: str = "/webhook",
             method: str = "POST") -> tuple[int, str, float]:
        host, port = self.server.address
        conn = http.client.HTTPConnection(host, port, timeout=5)
        began = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        return resp.status, text, time.monotonic() - began

    def queued(self) -> list[str]:
        return [line for entry in spool.pending(self.state) for line in entry.lines]


def serve(tmp_path: Path, **settings: object) -> Listener:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    logged: list[str] = []
    config = replace(Settings("127.0.0.1", 0, SECRET, BRANCH), **settings)  # type: ignore[arg-type]
    server = start(config, lambda lines: spool.enqueue(state, lines) and None,
                   DeliveryLog(state / "webhook-deliveries"), logged.append)
    return Listener(server, state, logged)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    served = serve(tmp_path)
    try:
        yield served
    finally:
        served.server.stop()
    text = "\n".join(served.logged)
    assert SECRET.decode() not in text
    assert hexmac(body_of("github-push.json")) not in text


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_a_signed_push_is_queued_as_a_wake_up_line_within_a_second(listener: Listener,
                                                                    forge: str) -> None:
    sign, fixture, after = FORGES[forge]
    body = body_of(fixture)
    status, text, elapsed = listener.post(body, sign(body, f"{forge}-delivery-1"))
    assert (status, text) == (202, "queued\n")
    assert listener.queued() == [f"{ZERO} {after} {BRANCH}"]
    assert elapsed < 1.0


@pytest.mark.parametrize("forge", ["github", "gitea", "forgejo"])
def test_a_wrong_or_missing_signature_is_refused_and_nothing_queued(listener: Listener,
                                                                     forge: str) -> None:
    sign, fixture, _ = FORGES[forge]
    body = body_of(fixture)
    wrong = sign(body, "d-1", secret=b"not-the-secret-at-all-0000")
    tampered = sign(body, "d-2")
    unsigned = {k: v for k, v in sign(body, "d-3").items()
                if "Signature" not in k}
    for headers, sent in ((wrong, body), (tampered, body.replace(b"main", b"mian")),
                          (unsigned, body)):
        assert listener.post(sent, headers)[:2] == (401, "bad signature\n")
    assert listener.queued() == []


def test_a_wrong_or_missing_gitlab_token_is_refused(listener: Listener) -> None:
    body = body_of("gitlab-push.json")
    wrong = gitlab(body, "u-1", secret=b"s3cr3t-webhook-token-for-tests-0124")
    missing = {k: v for k, v in gitlab(body, "u-2").items() if k != "X-Gitlab-Token"}
    assert listener.post(body, wrong)[0] == 401
    assert listener.post(body, missing)[0] == 401
    assert listener.queued() == []


def test_a_body_over_one_mib_is_refused_before_it_is_read(listener: Listener) -> None:
    body = b" " * (MAX_BODY + 1)
    assert listener.post(body, github(body, "big-1"))[0] == 413
    # Announced only: refused on the header, the body never sent.
    host, port = listener.server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.putrequest("POST", "/webhook")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert listener.queued() == []


def test_a_body_of_exactly_one_mib_is_read(listener: Listener) -> None:
    body = body_of("github-push.json")
    body += b" " * (MAX_BODY - len(body))
    assert listener.post(body, github(body, "full-1"))[0] == 202
    assert len(listener.queued()) == 1


@pytest.mark.parametrize(("forge", "event", "fixture"), [
    ("github", "issues", "github-push.json"),
    ("gitea", "pull_request", "gitea-push.json"),
    ("forgejo", "create", "forgejo-push.json"),
    ("gitlab", "Tag Push Hook", "gitlab-tag-push.json"),
])
def test_other_events_are_accepted_and_ignored(listener: Listener, forge: str, event: str,
                                               fixture: str) -> None:
    body = body_of(fixture)
    status, text, _ = listener.post(body, FORGES[forge][0](body, "e-1", event))
    assert status == 202
    assert text.startswith("ignored: not a push event")
    assert listener.queued() == []


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_a_push_to_another_branch_or_a_tag_is_ignored(listener: Listener, forge: str) -> None:
    sign, fixture, _ = FORGES[forge]
    for n, ref in enumerate(("refs/heads/develop", "refs/tags/v1.0", "refs/heads/main2")):
        body = body_of(fixture, ref=ref)
        assert listener.post(body, sign(body, f"b-{n}"))[:2] == (202, f"ignored: not a push to {BRANCH}\n")
    assert listener.queued() == []


def test_a_deleted_branch_is_ignored_and_a_bad_sha_refused(listener: Listener) -> None:
    deleted = body_of("github-push.json", after=ZERO, deleted=True)
    assert listener.post(deleted, github(deleted, "del-1"))[0] == 202
    for n, after in enumerate(("59b20b8", "59B20B8D5C6FF8D09518454D4DD8B7B30F095AB5", None,
                               "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5 refs/heads/x")):
        body = body_of("github-push.json", after=after)
        assert listener.post(body, github(body, f"sha-{n}"))[0] == 400
    assert listener.queued() == []


def test_a_replayed_delivery_queues_nothing_even_after_a_restart(tmp_path: Path) -> None:
    body = body_of("github-push.json")
    first = serve(tmp_path)
    try:
        assert first.post(body, github(body, "72d3162e-cc78-11e3-81ab-4c9367dc0958"))[0] == 202
        status, text, _ = first.post(body, github(body, "72d3162e-cc78-11e3-81ab-4c9367dc0958"))
        assert (status, text) == (200, "duplicate delivery: nothing queued\n")
    finally:
        first.server.stop()
    again = serve(tmp_path)
    try:
        assert again.post(body, github(body, "72d3162e-cc78-11e3-81ab-4c9367dc0958"))[0] == 200
        assert again.post(body, github(body, "another-delivery"))[0] == 202
    finally:
        again.server.stop()
    assert len(again.queued()) == 2


def test_gitlab_replays_are_known_by_their_event_uuid(listener: Listener) -> None:
    body = body_of("gitlab-push.json")
    headers = gitlab(body, "4c4e1bd8-1f7a-4a2e-9d7c-2b6c1f0e9a11")
    assert [listener.post(body, headers)[0] for _ in range(3)] == [202, 200, 200]
    assert len(listener.queued()) == 1


def test_a_ping_is_answered_and_queues_nothing(listener: Listener) -> None:
    body = body_of("github-ping.json")
    assert listener.post(body, github(body, "ping-1", "ping"))[:2] == (200, "pong\n")
    assert listener.queued() == []


def test_methods_paths_and_lengths(listener: Listener) -> None:
    body = body_of("github-push.json")
    headers = github(body, "m-1")
    assert listener.post(b"", {}, method="GET")[0] == 405
    assert listener.post(body, headers, method="PUT")[0] == 405
    assert listener.post(body, headers, path="/")[0] == 404
    assert listener.post(body, headers, path="/webhook/../x")[0] == 404
    assert listener.post(b"", {}, path="/other", method="GET")[0] == 404
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert listener.post(body, form)[0] == 415
    host, port = listener.server.address
    for length in (None, "abc", "-1"):
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.putrequest("POST", "/webhook")
        if length is not None:
            conn.putheader("Content-Length", length)
        conn.endheaders()
        assert conn.getresponse().status == (411 if length is None else 400)
        conn.close()
    assert listener.queued() == []


def test_the_delivery_log_keeps_the_last_ids_a_thousand_by_default(tmp_path: Path) -> None:
    assert KEEP_DELIVERIES == 1000
    path = tmp_path / "webhook-deliveries"
    path.write_text("bad id with spaces\n" + "".join(f"old-{n}\n" for n in range(1200)))
    assert "old-199" not in DeliveryLog(path) and "old-200" in DeliveryLog(path)
    log = DeliveryLog(path, keep=20)  # each add is one fsync'd write: a short log keeps this quick
    for n in range(25):
        log.add(f"d-{n}")
    lines = path.read_text().splitlines()
    assert len(lines) == 20
    assert lines[0] == "d-5" and lines[-1] == "d-24"
    again = DeliveryLog(path, keep=20)
    assert "d-4" not in again and "d-5" in again and "d-24" in again


def test_settings_helpers(tmp_path: Path) -> None:
    assert parse_listen("127.0.0.1:8075") == ("127.0.0.1", 8075)
    assert parse_listen("[::1]:8075") == ("::1", 8075)
    for bad in ("8075", "127.0.0.1:", "host:99999", ":80"):
        with pytest.raises(WebhookError):
            parse_listen(bad)
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    assert read_secret(secret_file) == SECRET
    secret_file.write_bytes(b"short\n")
    with pytest.raises(WebhookError) as short:
        read_secret(secret_file)
    assert "short" not in str(short.value)
    with pytest.raises(WebhookError):
        start(Settings("127.0.0.1", 0, b"", BRANCH), lambda _: None,
              DeliveryLog(tmp_path / "d"), print)
