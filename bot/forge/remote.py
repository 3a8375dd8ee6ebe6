"""A tasks repository on a forge: taskbot's clone of it, its credentials, its tip, its web pages.

Credentials come only from files and reach only git: an ssh deploy key (with a
known_hosts file and strict host-key checking) through `core.sshCommand` in taskbot's
own clone, or a token through a credential helper that reads the token file when git
asks. Neither the key nor the token is ever in an argv, in the environment of a handler
command, in a log line, a report, or the clone's config (which names only the files).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlsplit

from bot.config import Config
from bot.errors import ConfigError, TaskbotError
from bot.git import read
from bot.git import write as gitrepo
from bot.state.statedir import CLONES, SSH

CONTROL_PERSIST = 300  # seconds an idle shared ssh connection stays open
TOKEN_USER = "x-access-token"  # noqa: S105 - a user name: GitHub's; the others take any


class ForgeUnreachable(TaskbotError):
    """The forge did not answer (network, ssh, credentials): try again later."""


@dataclass(frozen=True)
class Remote:
    url: str
    ssh_key_file: str = ""
    known_hosts_file: str = ""
    token_file: str = ""
    control_dir: str = ""  # where ssh keeps one shared connection to the forge ("" = none)

    @property
    def is_ssh(self) -> bool:
        return not self.url.startswith(("https://", "http://"))


def from_config(config: Config) -> Remote:
    repo = config.repo
    return Remote(repo.remote, repo.ssh_key_file, repo.known_hosts_file, repo.token_file,
                  str(control_dir(Path(repo.state_dir))))


def control_dir(state_dir: Path) -> Path:
    """Where ssh keeps the connection it shares between git commands: `state_dir/ssh`, or a
    private folder under the temp dir when that path would not fit a Unix socket name."""
    own = state_dir.absolute() / SSH
    if len(str(own)) + 42 <= 100:  # "/" + the 40 hex digits of %C, and sun_path's 108
        return own
    return Path(tempfile.gettempdir()) / f"taskbot-ssh-{os.geteuid()}"


def _ready_control_dir(folder: str) -> bool:
    """The folder exists, is ours and no one else's to read: else no shared connection."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and not st.st_mode & 0o077)


def clone_path(state_dir: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/").rsplit("/", 1)[-1])
    return state_dir / CLONES / f"{name.removesuffix('.git') or 'tasks'}-{digest}"


def _ssh_command(remote: Remote) -> str:
    if not remote.ssh_key_file or not remote.known_hosts_file:
        raise ConfigError("repo.remote over ssh needs repo.ssh_key_file and "
                          "repo.known_hosts_file (a deploy key and the forge's host key)")
    argv = ["ssh", "-i", remote.ssh_key_file, "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={remote.known_hosts_file}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if remote.control_dir and _ready_control_dir(remote.control_dir):
        # One connection, kept open between git commands (the poller keeps it warm): a
        # webhook's fetch then costs a new channel, not a new ssh handshake.
        argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={remote.control_dir}/%C",
                 "-o", f"ControlPersist={CONTROL_PERSIST}"]
    return shlex.join(argv)


def _credential_helper(remote: Remote) -> str:
    """A helper that answers git's credential question from the token file, at the moment
    git asks: the token itself is written nowhere."""
    token = shlex.quote(remote.token_file)
    return (f"!f() {{ test \"$1\" = get || exit 0; echo username={TOKEN_USER}; "
            f"printf 'password='; cat {token}; echo; }}; f")


def credentials_config(remote: Remote) -> list[tuple[str, str]]:
    """The clone's config entries that give git (and only git) the forge's credentials."""
    if remote.is_ssh:
        return [("core.sshCommand", _ssh_command(remote))]
    if not remote.token_file:
        return []  # a public repository: fetch only; pushes will be refused and reported
    # Scoped to the forge's scheme, host and port: a redirect or any other URL gets nothing.
    scope = _origin(remote.url)
    return [("credential.helper", ""), (f"credential.{scope}.helper", ""),
            (f"credential.{scope}.helper", _credential_helper(remote))]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _transport_args(remote: Remote) -> list[str]:
    """`-c` options for a git command that runs before the clone exists (clone, ls-remote)."""
    args: list[str] = []
    for key, value in credentials_config(remote):
        args += ["-c", f"{key}={value}"]
    return args


def ensure_clone(remote: Remote, state_dir: Path) -> Path:
    """taskbot's clone of the forge's repository (made on first use), its credentials set."""
    path = clone_path(state_dir, remote.url)
    if not (path / ".git").exists():
        gitrepo.clone(remote.url, path, state_dir, options=_transport_args(remote))
    wanted = credentials_config(remote)
    if _configured(path, wanted):
        return path  # the usual case: no git process on a webhook's way to the handler
    seen: set[str] = set()
    for key, value in wanted:
        gitrepo.git(["config", "--add" if key in seen else "--replace-all", key, value], path)
        seen.add(key)
    return path


def _configured(clone: Path, wanted: list[tuple[str, str]]) -> bool:
    """Whether the clone's own config already holds exactly these entries."""
    import pygit2  # noqa: PLC0415 -- remote mode only

    try:
        config = pygit2.Config(str(clone / ".git" / "config"))  # this file alone, no globals
        for key in dict.fromkeys(k for k, _ in wanted):
            have = [str(v) for v in config.get_multivar(key)]
            if have != [v for k, v in wanted if k == key]:
                return False
    except (pygit2.GitError, KeyError, ValueError, OSError):
        return False
    return True


def remote_tip(remote: Remote, state_dir: Path, branch: str, *, shared: bool = True,
               timeout: float = read.GIT_TIMEOUT) -> str | None:
    """The branch's tip on the forge (`git ls-remote`, nothing fetched); None when the branch
    does not exist. Raises GitError when the forge cannot be reached."""
    clone = ensure_clone(remote, state_dir)
    # Without the shared connection when asked (doctor): a connection opened before a key or
    # host key changed would otherwise still answer.
    fresh = [] if shared else _transport_args(replace(remote, control_dir=""))
    record = gitrepo.git([*fresh, "ls-remote", "--heads", "origin", f"refs/heads/{branch}"],
                         clone, timeout=timeout)
    for line in record.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.strip() == f"refs/heads/{branch}":
            return sha.strip()
    return None


def fetch_tip(remote: Remote, state_dir: Path, branch: str) -> str | None:
    """Fetch the forge's branches and notes; the branch's tip as taskbot's clone now has it.
    ForgeUnreachable when the forge does not answer."""
    try:
        clone = ensure_clone(remote, state_dir)
        # Only the branch: on a webhook's way to the handler (the rest is fetched when a
        # worktree is prepared or a kept branch is pushed).
        gitrepo.git(["fetch", "--quiet", "--no-tags", "--no-auto-maintenance",
                     "--no-write-fetch-head", "origin",
                     f"+refs/heads/{branch}:refs/remotes/origin/{branch}"], clone)
    except read.GitError as exc:
        raise ForgeUnreachable(f"forge {remote.url} not reachable: {exc}") from exc
    return read.resolve(clone, f"refs/remotes/origin/{branch}")


# --- web pages ---------------------------------------------------------------------------

def web_base(url: str) -> tuple[str, str] | None:
    """(https://host/owner/repo, forge kind) for a forge URL, or None when it is not one."""
    if url.startswith(("https://", "http://")):
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    else:
        m = re.match(r"^(?:ssh://)?(?:[^@/]+@)?([^:/]+)(?::\d+)?[:/](.+)$", url)
        if m is None:
            return None
        host, path = m.group(1), m.group(2)
    path = path.strip("/").removesuffix(".git")
    if not host or not path:
        return None
    kind = "github" if host == "github.com" else "gitlab" if "gitlab" in host else "gitea"
    return f"https://{host}/{path}", kind


def compare_url(url: str, branch: str, work_branch: str, forge: str = "") -> str:
    """Where a person opens the pull (merge) request for taskbot's kept work branch; `forge`
    (repo.forge) overrides the guess from the host name."""
    found = web_base(url)
    if found is None:
        return ""
    base, guessed = found
    kind = "gitea" if forge in ("gitea", "forgejo") else forge or guessed
    if kind == "gitlab":
        return (f"{base}/-/merge_requests/new?merge_request%5Bsource_branch%5D="
                f"{quote(work_branch)}&merge_request%5Btarget_branch%5D={quote(branch)}")
    suffix = "?expand=1" if kind == "github" else ""
    return f"{base}/compare/{quote(branch)}...{quote(work_branch)}{suffix}"
