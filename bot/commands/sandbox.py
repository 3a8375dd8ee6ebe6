"""Throw-away setups for the demo, the benchmarks and the tests: a bare tasks repository with
a person's clone, and `taskbot serve` as a child process awaited through its sd_notify socket.

One home for them, so the demo a user runs and the tests that check it start the daemon the
same way: READY=1 awaited (no sleeps), SIGTERM on the way out, and the child always waited.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

from bot.daemon.hook import taskbot_executable


class NotifyListener:
    """An AF_UNIX datagram socket (abstract name) that records what a daemon says."""

    def __init__(self, prefix: str = "taskbot") -> None:
        self.name = f"@{prefix}-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + self.name[1:].encode())
        self.messages: list[str] = []

    def receive(self, timeout: float) -> str | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.messages.append(data)
        return data

    def expect(self, wanted: Callable[[str], bool], timeout: float = 20) -> str:
        """The first datagram that satisfies `wanted`; TimeoutError when none came in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.receive(deadline - time.monotonic())
            if data is not None and wanted(data):
                return data
        raise TimeoutError(f"no matching sd_notify datagram within {timeout}s; "
                           f"got {self.messages[-5:]}")

    def close(self) -> None:
        self.sock.close()


class ServeProcess:
    """A running `taskbot serve`, its notify socket and its log file."""

    def __init__(self, proc: subprocess.Popen[bytes], notify: NotifyListener, log: Path) -> None:
        self.proc = proc
        self.notify = notify
        self.log = log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; killed (and TimeoutError) when it does not stop in time."""
        if not stop_server(self.proc, timeout):
            raise TimeoutError(f"taskbot serve did not stop on SIGTERM:\n{self.stderr()}")
        return self.proc.returncode


def stop_server(proc: subprocess.Popen[bytes], grace: float = 5.0) -> bool:
    """SIGTERM a server the demo or a test started and reap it; SIGKILL after `grace` s.
    True when it stopped on SIGTERM."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


@contextlib.contextmanager
def serving(config: Path, log: Path, *, env: Mapping[str, str] | None = None,
            ready_timeout: float = 30) -> Iterator[ServeProcess]:
    """`taskbot --config CONFIG serve`, awaited until READY=1; stopped and waited, always."""
    notify = NotifyListener()
    child_env = {**(os.environ if env is None else env), "NOTIFY_SOCKET": notify.name}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(taskbot_executable()), "--config", str(config), "serve"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=child_env,
                                cwd=config.parent)
    daemon = ServeProcess(proc, notify, log)
    try:
        try:
            notify.expect(lambda m: "READY=1" in m, ready_timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{daemon.stderr()}") from None
        yield daemon
    finally:
        try:
            daemon.terminate()
        finally:
            notify.close()


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None, strip: bool = True) -> str:
    """`git ARGS` in `cwd`; its stdout, stripped unless `strip=False` (file contents from
    `git show`). CalledProcessError when git fails; `env=None` inherits ours."""
    done = subprocess.run(["git", *args], cwd=cwd, env=None if env is None else dict(env),
                          check=True, capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if strip else done.stdout


TomlValue: TypeAlias = (str | os.PathLike[str] | bool | int | float
             | Sequence["TomlValue"] | Mapping[str, "TomlValue"])
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_text(sections: Mapping[str, Mapping[str, TomlValue]], *, comment: str = "") -> str:
    """TOML for `{"repo": {...}, "projects.demo": {...}}`: one table per key (a dotted key is a
    nested table), its values strings, paths, numbers, booleans, lists or inline tables.

    The standard library only reads TOML. One writer, escaping strings properly, serves the
    demo, the benchmarks and the tests instead of a text template each.
    """
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    tables = ["".join([f"[{name}]\n", *(f"{_toml_key(k)} = {_toml_value(v)}\n"
                                         for k, v in table.items())])
              for name, table in sections.items()]
    return head + "\n".join(tables)


def write_config(path: Path, sections: Mapping[str, Mapping[str, TomlValue]], *,
                 comment: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(sections, comment=comment))
    return path


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | os.PathLike):
        return _toml_string(os.fspath(value))
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def commit_file(clone: Path, rel: str, content: str | bytes, message: str, *,
                env: Mapping[str, str] | None = None) -> Path:
    """Write `rel` in the clone (folders made as needed) and commit everything there."""
    path = clone / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    git(clone, "add", "-A", env=env)
    git(clone, "commit", "-q", "-m", message, env=env)
    return path


def make_repos(root: Path, name: str = "tasks", *, env: Mapping[str, str] | None = None,
               readme: str = "tasks\n") -> tuple[Path, Path]:
    """A bare repository `<name>.git` and a clone of it with one commit pushed to main."""
    bare = root / f"{name}.git"
    clone = root / f"{name}-clone"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare), env=env)
    git(root, "clone", "-q", str(bare), str(clone), env=env)
    git(clone, "checkout", "-q", "-b", "main", env=env)
    (clone / "README.md").write_text(readme)
    git(clone, "add", "-A", env=env)
    git(clone, "commit", "-q", "-m", "start", env=env)
    git(clone, "push", "-q", "origin", "main", env=env)
    return bare, clone
