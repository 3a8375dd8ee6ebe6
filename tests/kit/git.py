"""Real git repositories for tests: a bare tasks repo, a person's clone, pushes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.commands.sandbox import TomlValue, git, make_repos, write_config

__all__ = ["Sandbox", "git", "sandbox"]


@dataclass(frozen=True)
class Sandbox:
    root: Path
    bare: Path
    clone: Path
    config: Path

    def write(self, rel: str, text: str) -> Path:
        path = self.clone / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit_push(self, message: str, *extra: str) -> tuple[str, str]:
        """Commit everything in the clone and push; returns (old, new) of main."""
        old = git(self.bare, "rev-parse", "refs/heads/main") if self.has_main() else "0" * 40
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "-q", *extra, "-m", message)
        git(self.clone, "push", "-q", "origin", "HEAD:main")
        return old, git(self.bare, "rev-parse", "refs/heads/main")

    def has_main(self) -> bool:
        return subprocess.run(["git", "rev-parse", "--verify", "-q", "refs/heads/main"],
                              cwd=self.bare, capture_output=True, check=False).returncode == 0

    def main_file(self, rel: str) -> str:
        return git(self.bare, "show", f"main:{rel}")

    def log(self) -> list[str]:
        return git(self.bare, "log", "--format=%H %ae %s", "main").splitlines()


def sandbox(root: Path, *, on_complete: str = "keep",
            trust_extra: Mapping[str, TomlValue] | None = None, bare: bool = True) -> Sandbox:
    """A bare tasks repository (or, `bare=False`, watch mode on the clone) with a config that
    trusts becker@example.com and lets project `demo` (root/demo) run shell commands."""
    (root / "demo").mkdir()
    repo, clone = make_repos(root)
    config = write_config(root / "taskbot.toml", {
        "repo": {"path": repo if bare else clone, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state", "integrate": "ff", "on_complete": on_complete},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"authors": ["becker@example.com"], **(trust_extra or {})},
        "limits": {"retries": 0, "command_timeout": "20s"},
        "projects.demo": {"path": root / "demo", "allow_shell": True},
    })
    return Sandbox(root, repo, clone, config)


def signing_sandbox(root: Path) -> Sandbox:
    """`sandbox` whose trust needs an ssh signature from Becker's key, and whose clone signs
    with it when asked (`commit -S`)."""
    key = root / "becker"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "becker", "-f",
                    str(key)], check=True)
    signers = root / "allowed_signers"
    signers.write_text(f"becker@example.com {key.with_suffix('.pub').read_text()}")
    box = sandbox(root, trust_extra={"allowed_signers": signers})
    git(box.clone, "config", "gpg.format", "ssh")
    git(box.clone, "config", "user.signingkey", str(key))
    return box


def clean_git(cwd: Path, *args: str, strip: bool = True) -> str:
    """`git ARGS` as a person p@x with no `GIT_*` of ours and no system or global config:
    what git itself does, beside what taskbot does in process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="p", GIT_AUTHOR_EMAIL="p@x", GIT_COMMITTER_NAME="p",
               GIT_COMMITTER_EMAIL="p@x", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
    return git(cwd, *args, env=env, strip=strip)
