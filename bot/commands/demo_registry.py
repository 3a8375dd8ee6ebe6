"""A local `docker-registry` with TLS and htpasswd auth on 127.0.0.1, for `taskbot demo`.

The recipe of ../shared/design/TESTING.md: a self-signed certificate (its own CA), a bcrypt
htpasswd file, the registry's config.yml; ready once GET /v2/ answers 401.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.commands.sandbox import stop_server

USER = "demo"
PASSWORD = secrets.token_hex(12)  # a fresh one per demo run


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    ca_file: Path  # the self-signed certificate
    cert_dir: Path  # only ca.crt in it, for buildah --cert-dir
    username: str
    password_file: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def self_signed_cert(root: Path, name: str = "domain",
                     san: str = "IP:127.0.0.1,DNS:localhost") -> Path:
    """`root/NAME.crt` (its own CA) and `root/NAME.key`."""
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", f"subjectAltName={san}",
         "-keyout", str(root / f"{name}.key"), "-out", str(root / f"{name}.crt"))
    return root / f"{name}.crt"


def _files(root: Path, username: str, password: str, delete: bool) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    cert = self_signed_cert(root)
    (root / "ca").mkdir()
    shutil.copy(cert, root / "ca" / "ca.crt")
    _run("htpasswd", "-Bbc", str(root / "htpasswd"), username, password)
    (root / "password").write_text(password + "\n")
    host = f"127.0.0.1:{free_port()}"
    deleting = ", delete: {enabled: true}" if delete else ""
    (root / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root}/data}}{deleting}}}\n"
        f"http: {{addr: {host}, secret: demo, tls: {{certificate: {cert}, "
        f"key: {root}/domain.key}}}}\n"
        f"auth: {{htpasswd: {{realm: demo, path: {root}/htpasswd}}}}\n")
    return Registry(host, cert, root / "ca", username, root / "password")


def _wait(registry: Registry, proc: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context(cafile=str(registry.ca_file))
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"https://{registry.host}/v2/", timeout=1, context=context)
            return
        except urllib.error.HTTPError:
            return  # 401: it is serving
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {log.read_text()}") from None
            time.sleep(0.02)


def start(root: Path, *, username: str = USER, password: str = PASSWORD,
          delete: bool = False) -> tuple[Registry, subprocess.Popen[bytes]]:
    """The registry serving from `root` (`delete`: manifests may be deleted); the caller
    stops the process (`sandbox.stop_server`). Also the tests' registry."""
    registry = _files(root, username, password, delete)
    log = root / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(registry, proc, log)
    except BaseException:
        stop_server(proc)
        raise
    return registry, proc


@contextlib.contextmanager
def running(root: Path) -> Iterator[Registry]:
    """The registry serving from `root`, stopped and waited for on the way out."""
    registry, proc = start(root)
    try:
        yield registry
    finally:
        stop_server(proc, grace=10)
