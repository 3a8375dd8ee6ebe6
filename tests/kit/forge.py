"""A forge stood in by real servers: a bare repository behind `sshd` (deploy key, strict
host-key checking) and behind `git http-backend` in `lighttpd` (TLS, basic auth with a token).

A test module says `pytest_plugins = ["tests.kit.forge_plugin"]` and takes `ssh_forge` or
`http_forge`; the fixtures live there, apart from what tests import from here, so pytest can
still rewrite the plugin. Both are function-scoped, start in well under a second and stop
their server (terminate, then wait: PID 1 here does not reap). Tests using them are
`@pytest.mark.integration`: without the binaries they are skipped with the reason (and CI
turns that skip into a failure). See ../shared/design/TESTING.md, "A forge stood in by a
real sshd".
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.commands.sandbox import git, stop_server
from tests.kit.registry import free_port, need

SSHD = "/usr/sbin/sshd"
LIGHTTPD = "lighttpd"
TOKEN_USER = "x-access-token"  # GitHub's user name for a token; Gitea/GitLab accept any
START_TIMEOUT = 5.0


# --- the repository both forges serve -------------------------------------------------------

def make_bare(bare: Path) -> Path:
    """`bare` on branch main with one commit: README.md and tasks/active/.gitkeep."""
    seed = bare.parent / f"{bare.stem}-seed"
    (seed / "tasks" / "active").mkdir(parents=True)
    (seed / "tasks" / "active" / ".gitkeep").write_text("")
    (seed / "README.md").write_text("# tasks\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "tasks repository")
    git(bare.parent, "init", "-q", "--bare", "-b", "main", str(bare))
    git(seed, "push", "-q", str(bare), "main")
    shutil.rmtree(seed)
    return bare


def install_pre_receive(bare: Path, script: str) -> Path:
    """Install `script` (a whole file, shebang included) as the forge's pre-receive hook."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(script)
    hook.chmod(0o755)
    return hook


# --- process handling -----------------------------------------------------------------------

def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_server(proc)
                raise RuntimeError(f"{proc.args!r} did not listen on {port}: "
                                   + log.read_text(errors="replace")) from None
            time.sleep(0.01)


def start_on_free_port(launch: Callable[[int], subprocess.Popen[bytes]], log: Path,
                       attempts: int = 3) -> tuple[int, subprocess.Popen[bytes]]:
    """Start a server on a free port; another process may take the port between our probe
    and the server's bind, so a server that dies before listening is retried."""
    for attempt in range(attempts):
        port = free_port()
        proc = launch(port)
        try:
            wait_listening(port, proc, log)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            continue
        return port, proc
    raise AssertionError("unreachable")


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)


# --- ssh ------------------------------------------------------------------------------------

def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], check=True, capture_output=True)
    return path


def public_key(key: Path) -> str:
    """`TYPE BASE64` of `key`'s public half, without the comment."""
    return " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])


@dataclass(frozen=True)
class SshForge:
    url: str  # ssh://USER@127.0.0.1:PORT/abs/path/forge.git
    port: int
    bare: Path
    deploy_key: Path  # taskbot's deploy key (private half; `.pub` next to it)
    person_key: Path  # a second authorized key, for a person's pushes
    known_hosts: Path  # `[127.0.0.1]:PORT <host key>`
    host_key: Path  # the server's private host key
    authorized_keys: Path
    root: Path

    def ssh_command(self, key: Path | None = None, known_hosts: Path | None = None) -> str:
        """An ssh command line for GIT_SSH_COMMAND / core.sshCommand: only `key` (default:
        the deploy key), only `known_hosts`, strict host-key checking, never a prompt."""
        return (f"ssh -i {key or self.deploy_key} -o IdentitiesOnly=yes"
                f" -o UserKnownHostsFile={known_hosts or self.known_hosts}"
                " -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes"
                " -o BatchMode=yes -o LogLevel=ERROR")

    def git_env(self, key: Path | None = None, known_hosts: Path | None = None,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: our environment) plus GIT_SSH_COMMAND for `key`."""
        env = dict(os.environ if base is None else base)
        env["GIT_SSH_COMMAND"] = self.ssh_command(key, known_hosts)
        return env

    def clone(self, dest: Path, key: Path | None = None) -> Path:
        """A person's clone that pulls and pushes through sshd with `key` (default: the
        person's key), kept in the clone's core.sshCommand so plain `git push` works."""
        command = self.ssh_command(key or self.person_key)
        git(dest.parent, "clone", "-q", self.url, str(dest),
            env={**os.environ, "GIT_SSH_COMMAND": command})
        git(dest, "config", "core.sshCommand", command)
        return dest

    def pre_receive(self, script: str) -> Path:
        return install_pre_receive(self.bare, script)


def sshd_config(root: Path, port: int, host_key: Path, authorized_keys: Path) -> Path:
    config = root / f"sshd_config.{port}"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        "PidFile none\n"
        f"AuthorizedKeysFile {authorized_keys}\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "UseDNS no\n")
    return config


def start_ssh_forge(root: Path) -> tuple[SshForge, subprocess.Popen[bytes]]:
    need(SSHD, "ssh", "ssh-keygen", "git")
    root.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation dir
    bare = make_bare(root / "forge.git")
    host_key = keygen(root / "host_ed25519", "forge-host")
    deploy_key = keygen(root / "deploy_ed25519", "taskbot-deploy")
    person_key = keygen(root / "person_ed25519", "person")
    authorized_keys = root / "authorized_keys"
    authorized_keys.write_text(f"{public_key(deploy_key)}\n{public_key(person_key)}\n")
    log = root / "sshd.log"

    def launch(port: int) -> subprocess.Popen[bytes]:
        config = sshd_config(root, port, host_key, authorized_keys)
        return spawn([SSHD, "-D", "-e", "-f", str(config)], log)

    port, proc = start_on_free_port(launch, log)
    known_hosts = root / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {public_key(host_key)}\n")
    user = pwd.getpwuid(os.getuid()).pw_name
    forge = SshForge(f"ssh://{user}@127.0.0.1:{port}{bare}", port, bare, deploy_key,
                     person_key, known_hosts, host_key, authorized_keys, root)
    return forge, proc


# --- https with a token ---------------------------------------------------------------------

@dataclass(frozen=True)
class HttpForge:
    url: str  # https://127.0.0.1:PORT/git/forge.git, no credentials in it
    port: int
    bare: Path
    username: str  # x-access-token
    token: str
    token_file: Path  # the token and a newline, as an operator would keep it
    ca_file: Path  # the server's self-signed certificate (its own CA)
    root: Path

    def auth_header(self, token: str | None = None) -> str:
        pair = f"{self.username}:{self.token if token is None else token}"
        return "Authorization: Basic " + base64.b64encode(pair.encode()).decode()

    def git_env(self, token: str | None = None, base: Mapping[str, str] | None = None
                ) -> dict[str, str]:
        """`base` (default: our environment) plus the CA (GIT_SSL_CAINFO) and the token as an
        http.extraHeader passed through GIT_CONFIG_* (never argv); no prompts."""
        env = dict(os.environ if base is None else base)
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
        env.update({"GIT_SSL_CAINFO": str(self.ca_file), "GIT_TERMINAL_PROMPT": "0",
                    "GIT_CONFIG_COUNT": str(count + 1),
                    f"GIT_CONFIG_KEY_{count}": "http.extraHeader",
                    f"GIT_CONFIG_VALUE_{count}": self.auth_header(token)})
        return env

    def clone(self, dest: Path, token: str | None = None) -> Path:
        """A person's clone that pushes over https; the CA and the token are kept in the
        clone's own config (a person's laptop, not taskbot's clone)."""
        git(dest.parent, "clone", "-q", self.url, str(dest), env=self.git_env(token))
        git(dest, "config", "http.sslCAInfo", str(self.ca_file))
        git(dest, "config", "http.extraHeader", self.auth_header(token))
        return dest

    def pre_receive(self, script: str) -> Path:
        return install_pre_receive(self.bare, script)


def make_ec_cert(root: Path) -> Path:
    """A self-signed P-256 certificate for 127.0.0.1 (its own CA); EC, as RSA key generation
    alone would take most of the fixture's start-up."""
    cert = root / "tls.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(root / "tls.key"),
         "-out", str(cert)], check=True, capture_output=True)
    return cert


def lighttpd_config(root: Path, port: int, projects: Path, cert: Path) -> Path:
    backend = Path(git(root, "--exec-path")) / "git-http-backend"
    config = root / f"lighttpd.{port}.conf"
    config.write_text(f"""\
server.modules = ("mod_openssl", "mod_alias", "mod_setenv", "mod_auth", "mod_authn_file",
                  "mod_cgi")
server.document-root = "{root}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{root}/lighttpd.log"
ssl.engine = "enable"
ssl.pemfile = "{cert}"
ssl.privkey = "{cert.with_suffix('.key')}"
auth.backend = "plain"
auth.backend.plain.userfile = "{root}/users"
auth.require = ("/git/" => ("method" => "basic", "realm" => "forge",
                            "require" => "valid-user"))
alias.url = ("/git/" => "{backend}/")
$HTTP["url"] =~ "^/git/" {{
    cgi.assign = ("" => "")
    setenv.set-environment = ("GIT_PROJECT_ROOT" => "{projects}",
                              "GIT_HTTP_EXPORT_ALL" => "1")
}}
""")
    return config


def start_http_forge(root: Path, token: str = "forge-token-3f9c1a7e"
                     ) -> tuple[HttpForge, subprocess.Popen[bytes]]:
    need(LIGHTTPD, "openssl", "git")
    (root / "www").mkdir(parents=True, exist_ok=True)
    projects = root / "projects"
    projects.mkdir()
    bare = make_bare(projects / "forge.git")
    git(bare, "config", "http.receivepack", "true")
    cert = make_ec_cert(root)
    (root / "users").write_text(f"{TOKEN_USER}:{token}\n")
    token_file = root / "token"
    token_file.write_text(token + "\n")
    log = root / "lighttpd.out"

    def launch(port: int) -> subprocess.Popen[bytes]:
        return spawn([LIGHTTPD, "-D", "-f", str(lighttpd_config(root, port, projects, cert))],
                     log)

    port, proc = start_on_free_port(launch, log)
    forge = HttpForge(f"https://127.0.0.1:{port}/git/forge.git", port, bare, TOKEN_USER,
                      token, token_file, cert, root)
    return forge, proc
