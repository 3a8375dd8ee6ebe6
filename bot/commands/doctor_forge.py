"""`taskbot doctor` for a tasks repository on a forge: the key, the host key, the branch,
the token file, the webhook listener, and whether the forge answered the daemon lately."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bot.commands.checks import Check
from bot.config import Config, read_secret
from bot.errors import ConfigError, TaskbotError
from bot.forge import remote, webhook


def forge_checks(config: Config) -> Iterator[Check]:
    repo = config.repo
    if not repo.remote:
        return
    where = f"{config.source}: repo.remote"
    forge = remote.from_config(config)
    if forge.is_ssh:
        yield from _ssh_files(config)
    elif repo.token_file:
        try:
            read_secret(repo.token_file, "repo.token_file")
            yield Check("forge", True, f"token file {repo.token_file} readable")
        except ConfigError as exc:
            yield Check("forge", False, f"{exc}: taskbot cannot push; write the token there")
    try:
        tip = remote.remote_tip(forge, Path(repo.state_dir), repo.branch, shared=False)
    except (TaskbotError, OSError) as exc:
        yield Check("forge", False, f"{where} = {repo.remote}: not reachable with the "
                    f"configured credentials: {exc}")
    else:
        if tip is None:
            yield Check("forge", False, f"{where}: no branch {repo.branch!r} there (repo.branch)")
        else:
            yield Check("forge", True, f"{repo.remote} reachable, {repo.branch} at {tip[:12]}")
    yield from _webhook(config)


def _ssh_files(config: Config) -> Iterator[Check]:
    repo = config.repo
    for key, value in (("ssh_key_file", repo.ssh_key_file),
                       ("known_hosts_file", repo.known_hosts_file)):
        if not value or not Path(value).is_file():
            yield Check("forge", False, f"{config.source}: repo.{key} = {value or '(unset)'}: "
                        "no such file; an ssh remote needs a deploy key and the forge's "
                        "host key (ssh-keyscan HOST >> FILE, then check its fingerprint)")
            return
    host = _ssh_host(repo.remote)
    if host and not _known(host, repo.known_hosts_file):
        yield Check("forge", False, f"{config.source}: repo.known_hosts_file = "
                    f"{repo.known_hosts_file} has no key for {host}: add it "
                    f"(ssh-keyscan, checking the fingerprint the forge publishes)")
    else:
        yield Check("forge", True, f"host key of {host} known in {repo.known_hosts_file}")


def _ssh_host(url: str) -> str:
    found = remote.web_base(url)
    if found is None:
        return ""
    host = found[0].split("/")[2]
    if url.startswith("ssh://"):
        netloc = url[len("ssh://"):].split("/", 1)[0].rsplit("@", maxsplit=1)[-1]
        name, _, port = netloc.partition(":")
        return f"[{name}]:{port}" if port and port != "22" else name
    return host


def _known(host: str, known_hosts: str) -> bool:
    done = subprocess.run(["ssh-keygen", "-F", host, "-f", known_hosts],
                          capture_output=True, text=True, check=False, timeout=10)
    return done.returncode == 0 and bool(done.stdout.strip())


def _webhook(config: Config) -> Iterator[Check]:
    hook = config.webhook
    if hook is None:
        yield Check("forge", True, f"no [webhook]: polled every {config.repo.poll:.0f}s")
        return
    try:  # the daemon's own reader: what it refuses, doctor refuses
        webhook.read_secret(hook.secret_file)
    except TaskbotError as exc:
        yield Check("webhook", False, f"{exc}: without it every delivery is refused")
    host, port = hook.address
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(2)
        listening = s.connect_ex((host, port)) == 0
    if listening:
        yield Check("webhook", True, f"http://{host}:{port}{hook.path} answers")
    else:
        yield Check("webhook", False, f"{config.source}: webhook.listen = {hook.listen}: nothing "
                    "listens there: start `taskbot serve` (or the unit), or check the port")
