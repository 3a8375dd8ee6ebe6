"""(f) The webhook listener under a flood of badly signed posts.

The receiver (`bot.forge.webhook`) runs alone in a child process on 127.0.0.1, port 0,
with a real spool in a temporary state dir. This process sends 200 requests/s for
10 s (`--smoke`: 2 s; `-n`: seconds) from a few paced client threads, one connection
per request as forges do: GitHub-, Gitea- and Forgejo-shaped pushes signed with the
wrong secret or not signed, and GitLab pushes with a wrong token. Each answer's time is
taken from connect to the last byte read. The child's VmRSS is read from /proc after a
short warm-up and after the flood.
Targets: 0 queued, every answer 401, median answer ≤ 10 ms, RSS growth ≤ 5 MB.

Then slow clients (issue 17, finding 7): 40 and 200 connections that each send part of a
request (half the head, half a head and part of the body) and stall, from another address
(127.0.0.2) or from the forge's own (127.0.0.1); meanwhile 58 validly signed pushes are
delivered one after another from 127.0.0.1 (`--smoke`: 40 from another address only).
Target: every push queued (202), none answered 503.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchlib import ROOT, env, median, ms, p90, parse_args, verdict, workdir

RATE = 200  # requests per second
CLIENTS = 4
TARGET_MEDIAN = 0.010
TARGET_RSS_MB = 5.0
WARM_UP = 100
SECRET = b"bench-webhook-secret-0123456789"
WRONG = b"not-the-secret-at-all-987654321"
FIXTURES = ROOT / "tests" / "kit" / "data" / "webhooks"
SLOW_PUSHES = 58
STALLS = (b"POST /webhook HTTP/1.1\r\nHost: taskbot\r\nContent-Length: 1533\r\n",
          b"POST /webhook HTTP/1.1\r\nHost: taskbot\r\nContent-Length: 1533\r\n\r\n{\"ref\": ")

# The child: the receiver alone, its port on stdout, until its stdin closes.
CHILD = """
import sys
from bot.daemon import spool
from bot.forge.webhook import DeliveryLog, Settings, start
state = sys.argv[1]
server = start(Settings("127.0.0.1", 0, sys.argv[2].encode(), "refs/heads/main"),
               lambda lines: spool.enqueue(state, lines) and None,
               DeliveryLog(state + "/webhook-deliveries"), lambda line: None)
print(server.address[1], flush=True)
sys.stdin.read()
server.stop()
"""


def _requests() -> list[tuple[bytes, dict[str, str]]]:
    """Badly signed requests of every forge's shape, sent in turn."""
    def body(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    def sig(data: bytes) -> str:
        return hmac.new(WRONG, data, hashlib.sha256).hexdigest()

    json_type = {"Content-Type": "application/json"}
    gh, gt, fj, gl = (body("github-push.json"), body("gitea-push.json"),
                      body("forgejo-push.json"), body("gitlab-push.json"))
    return [
        (gh, {**json_type, "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1",
              "X-Hub-Signature-256": f"sha256={sig(gh)}"}),
        (gh, {**json_type, "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-2"}),
        (gt, {**json_type, "X-Gitea-Event": "push", "X-Gitea-Delivery": "d-3",
              "X-Gitea-Signature": sig(gt)}),
        (fj, {**json_type, "X-Forgejo-Event": "push", "X-Forgejo-Delivery": "d-4",
              "X-Forgejo-Signature": sig(fj)}),
        (gl, {**json_type, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "d-5",
              "X-Gitlab-Token": WRONG.decode()}),
    ]


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/webhook", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - began
    finally:
        conn.close()


def _flood(port: int, seconds: float) -> tuple[list[float], dict[int, int], float]:
    """`RATE` requests/s for `seconds`, paced per client; (answer times, statuses, elapsed)."""
    requests = _requests()
    times: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = time.monotonic() + 0.05
    total = int(RATE * seconds)

    def client(k: int) -> None:
        for i in range(k, total, CLIENTS):
            delay = start + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                status, elapsed = _post(port, *requests[i % len(requests)])
            except OSError:
                status, elapsed = 0, 5.0
            with lock:
                times.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, statuses, time.monotonic() - start


def _signed_push(n: int) -> tuple[bytes, dict[str, str]]:
    data = json.loads((FIXTURES / "github-push.json").read_bytes())
    data["after"] = hashlib.sha256(f"slow-{n}".encode()).hexdigest()[:40]
    body = json.dumps(data).encode()
    return body, {"Content-Type": "application/json", "X-GitHub-Event": "push",
                  "X-GitHub-Delivery": f"slow-{n}",
                  "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()}


def _report_flood(times: list[float], statuses: dict[int, int], elapsed: float, queued: int,
                  rss0: int, rss1: int, threads: int) -> None:
    growth = (rss1 - rss0) / 1024
    print(f"webhook_load.requests: {len(times)} in {elapsed:.1f} s "
          f"({len(times) / elapsed:.0f}/s; statuses {dict(sorted(statuses.items()))})")
    print(f"webhook_load.queued: {queued} (target 0: {verdict(queued == 0)})")
    print(f"webhook_load.answer_median: {ms(median(times))} (target <= {ms(TARGET_MEDIAN)}: "
          f"{verdict(median(times) <= TARGET_MEDIAN)})")
    print(f"webhook_load.answer_p90: {ms(p90(times))}")
    print(f"webhook_load.answer_max: {ms(max(times))}")
    print(f"webhook_load.rss_growth: {growth:.2f} MB ({rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MB; "
          f"target <= {TARGET_RSS_MB:.0f} MB: {verdict(growth <= TARGET_RSS_MB)})")
    print(f"webhook_load.server_threads_after: {threads}")


def _slow_clients(port: int, count: int, source: str, first: int) -> tuple[dict[int, int], list[float]]:
    """`count` stalled connections from `source`, then `SLOW_PUSHES` signed pushes (delivery
    ids from `first`): (statuses, answer times)."""
    stalled = []
    statuses: dict[int, int] = {}
    times: list[float] = []
    try:
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
            with contextlib.suppress(OSError):  # a refused one counts as closed
                sock.sendall(STALLS[n % 2])
            stalled.append(sock)
        for n in range(first, first + SLOW_PUSHES):
            began = time.perf_counter()
            try:
                status, elapsed = _post(port, *_signed_push(n))
            except OSError:  # reset, or no answer within 5 s: status 0
                status, elapsed = 0, time.perf_counter() - began
            statuses[status] = statuses.get(status, 0) + 1
            times.append(elapsed)
    finally:
        for sock in stalled:
            sock.close()
    return statuses, times


def _slow_report(port: int, smoke: bool) -> None:
    scenarios = [(40, "127.0.0.2")] if smoke else [(40, "127.0.0.2"), (200, "127.0.0.2"),
                                                   (40, "127.0.0.1"), (200, "127.0.0.1")]
    for k, (count, source) in enumerate(scenarios):
        statuses, times = _slow_clients(port, count, source, k * SLOW_PUSHES)
        queued, busy, lost = statuses.get(202, 0), statuses.get(503, 0), statuses.get(0, 0)
        who = "same_client" if source == "127.0.0.1" else "other_client"
        print(f"webhook_load.slow_{count}_{who}: {queued} of {SLOW_PUSHES} signed pushes queued, "
              f"{busy} answered 503, {lost} no answer (statuses {dict(sorted(statuses.items()))}; "
              f"median answer {ms(median(times))}; target all queued: "
              f"{verdict(queued == SLOW_PUSHES)})")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError("VmRSS")


def main() -> None:
    args = parse_args(__doc__, default_n=10, smoke_n=2)  # n: seconds
    with workdir() as root:
        state = root / "state"
        state.mkdir()
        child_env = {**env(), "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(state), SECRET.decode()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=child_env, cwd=root)
        try:
            assert proc.stdout is not None and proc.stdin is not None
            port = int(proc.stdout.readline())
            for body, headers in _requests() * (WARM_UP // 5):
                _post(port, body, headers)
            rss0 = _rss_kb(proc.pid)
            times, statuses, elapsed = _flood(port, float(args.n))
            time.sleep(0.2)
            rss1 = _rss_kb(proc.pid)
            threads = len(list(Path(f"/proc/{proc.pid}/task").iterdir()))
            _report_flood(times, statuses, elapsed, len(list((state / "queue").glob("*.push"))),
                          rss0, rss1, threads)
            _slow_report(port, args.smoke)
        finally:
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
