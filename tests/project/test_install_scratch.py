"""docs/daemon.md "Install as a service", line by line, in a scratch root (needs root; CI is root).

The commands are read from that page's install code block and run as written, with the
paths moved under a temporary root and the user `taskbot` renamed to a unique throw-away
one. `python3 -m venv …` makes the venv under the scratch root, but instead of `pip install`
it points a .pth file at this venv's packages (a real install takes a minute offline-less);
skipped: `systemctl …` (no systemd running here; `systemd-analyze verify` checks the
installed unit instead), and `git config --system` writes to a scratch file
(GIT_CONFIG_SYSTEM), not to the machine's /etc/gitconfig.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.daemon import REPO_ROOT
from tests.kit.exactly import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="useradd and runuser need root (CI runs as root)"),
]

SKIPPED = ("systemctl ",)
TOOLS = ("useradd", "userdel", "runuser", "setpriv", "install", "systemd-analyze")


def readme_install_lines() -> list[str]:
    text = (REPO_ROOT / "docs" / "daemon.md").read_text()
    section = text.split("## Install as a service", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def make_venv(root: Path) -> Path:
    """The README's venv step, `pip install` replaced by a .pth to this venv's packages; its
    interpreter one the service user may run (pyenv's lives under root's 0700 home)."""
    system = Path("/usr/bin/python3")
    version = subprocess.run([str(system), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=False).stdout.strip() \
        if system.exists() else ""
    python = str(system) if version == str(sys.version_info[:2]) else sys.executable
    venv = root / "opt" / "taskbot"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = sorted((venv / "lib").glob("python3*/site-packages"))[0]  # no iterator left open
    (site / "taskbot-scratch.pth").write_text(f"{REPO_ROOT}\n{sysconfig.get_paths()['purelib']}\n")
    script = venv / "bin" / "taskbot"
    script.write_text(f"#!{venv}/bin/python3\nimport sys\nfrom bot.cli import main_entry\n"
                      "sys.exit(main_entry())\n")
    script.chmod(0o755)
    return script


def localize(line: str, root: Path, user: str) -> str:
    """The README line with its paths under `root` and the user/group `taskbot` as `user`."""
    paths = {
        "/opt/taskbot/bin/taskbot": f"{root}/opt/taskbot/bin/taskbot",
        "systemd/taskbot.service": str(REPO_ROOT / "systemd" / "taskbot.service"),
        "/etc/systemd/system/": f"{root}/etc/systemd/system/",
        "/etc/taskbot/taskbot.toml": f"{root}/etc/taskbot/taskbot.toml",
        "/var/lib/taskbot": f"{root}/var/lib/taskbot",
        "/srv/git/tasks.git": f"{root}/srv/git/tasks.git",
    }
    for i, path in enumerate(paths):  # placeholders first: the paths name `taskbot` too
        line = line.replace(path, f"@{i}@")
    line = re.sub(r"\btaskbot\b", user, line)
    for i, value in enumerate(paths.values()):
        line = line.replace(f"@{i}@", value)
    return line.replace(" && systemctl daemon-reload", "")


@pytest.fixture
def scratch() -> Iterator[tuple[Path, str]]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    root = Path(tempfile.mkdtemp(prefix="taskbot-root-", dir="/tmp"))
    root.chmod(0o755)  # the service user walks into it, as into / on a real machine
    (root / "etc" / "systemd" / "system").mkdir(parents=True)  # there on any Debian root
    user = f"tb{secrets.token_hex(4)}"
    try:
        yield root, user
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", user], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _tasks_repo(root: Path) -> Path:
    """The operator's tasks repository, there before taskbot is installed."""
    bare = root / "srv" / "git" / "tasks.git"
    seed = root / "seed"
    env = {**os.environ, "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "B", "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=env)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True, env=env)
    (seed / "README.md").write_text("tasks\n")
    for args in (["add", "-A"], ["commit", "-qm", "start"], ["push", "-q", str(bare), "main"]):
        subprocess.run(["git", *args], cwd=seed, check=True, env=env)
    return bare


def _edit_starter(config: Path, root: Path) -> None:
    """What the operator does after the first `init`: point [repo] at this machine."""
    text = config.read_text()
    assert 'path = "/srv/git/tasks.git"' in text and 'state_dir = "/var/lib/taskbot"' in text
    config.write_text(text.replace("/srv/git/tasks.git", f"{root}/srv/git/tasks.git")
                      .replace("/var/lib/taskbot", f"{root}/var/lib/taskbot"))


def _run(line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", line], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert "internal error" not in done.stdout + done.stderr, line
    assert "Traceback" not in done.stderr, line
    return done


def test_readme_install_runs_as_written(scratch: tuple[Path, str]) -> None:
    root, user = scratch
    lines = readme_install_lines()
    assert any(line.startswith("runuser -u taskbot -- ") and " init " in line for line in lines)
    bare = _tasks_repo(root)
    # conftest turns the system git config off; here it stands for the machine's /etc/gitconfig
    env = {k: v for k, v in os.environ.items() if k != "GIT_CONFIG_NOSYSTEM"}
    env["GIT_CONFIG_SYSTEM"] = str(root / "etc" / "gitconfig")
    config = root / "etc" / "taskbot" / "taskbot.toml"
    outputs: dict[str, str] = {}
    for line in lines:
        if line.startswith(SKIPPED):
            continue
        if line.startswith("python3 -m venv /opt/taskbot && "):
            make_venv(root)
            continue
        done = _run(localize(line, root, user), env)
        if " doctor" in line:
            assert done.returncode in (0, 1), done.stdout + done.stderr  # findings, not a crash
        else:
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs[line] = done.stdout
        if line.endswith("init --config /etc/taskbot/taskbot.toml") and not line.startswith("runuser"):
            assert "wrote a starter configuration" in done.stdout
            _edit_starter(config, root)
    _check_state_dir(root / "var" / "lib" / "taskbot", user)
    assert (bare / "hooks" / "post-receive").is_file()
    _check_unit(root)
    _push_as_group_member(root, bare, user, env)


def _check_state_dir(state: Path, user: str) -> None:
    import grp
    import pwd

    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(user).gr_gid
    info = state.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, 0o755)
    for spool in (state / "queue", state / "queue" / "tmp", state / "queue" / "failed"):
        info = spool.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, 0o3770), spool


def _check_unit(root: Path) -> None:
    unit = root / "etc" / "systemd" / "system" / "taskbot.service"
    text = unit.read_text()
    assert "ExecStart=/opt/taskbot/bin/taskbot " in text
    unit.write_text(text.replace("/opt/taskbot/bin/taskbot", f"{root}/opt/taskbot/bin/taskbot"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", "--generators=no", str(unit)],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def _push_as_group_member(root: Path, bare: Path, group: str, env: dict[str, str]) -> None:
    """A person in group taskbot pushes: the hook queues it in the spool."""
    clone = root / "person"
    done = subprocess.run(["git", "clone", "-q", str(bare), str(clone)], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (clone / "TASK-001.md").write_text("# TASK-001\n")
    person = {**env, "HOME": str(clone), "GIT_AUTHOR_NAME": "P", "GIT_AUTHOR_EMAIL": "p@x",
              "GIT_COMMITTER_NAME": "P", "GIT_COMMITTER_EMAIL": "p@x"}
    subprocess.run(["chown", "-R", "nobody", str(clone)], check=True)
    as_person = ["setpriv", "--reuid=nobody", "--regid=nogroup", f"--groups={group}", "--"]
    for args in (["add", "-A"], ["commit", "-qm", "task"], ["push", "-q", "origin", "main"]):
        done = subprocess.run([*as_person, "git", *args], cwd=clone, env=person,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr and "internal error" not in done.stderr, done.stderr
    spool = root / "var" / "lib" / "taskbot" / "queue"
    # The hook leaves the spool write to a background child: the push returns first.
    wait_until(lambda: bool(list(spool.glob("*.push"))), 10, "the push in the spool")
    entries = list(spool.glob("*.push"))
    assert len(entries) == 1 and entries[0].stat().st_uid != 0, (done.stderr, list(
        (root / "var" / "lib" / "taskbot").rglob("*")))
