"""`taskbot doctor` for `[identity] signing_key`: does the key sign, and does
`[trust] allowed_signers`, when set, verify what it signs as the identity's e-mail?

A test payload is signed as git signs a commit (`ssh-keygen -Y sign -n git`) and verified
as `git verify-commit` would (`ssh-keygen -Y verify`). The key's bytes are never read
here: ssh-keygen reads the file, and only its public half is ever shown.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.commands.checks import Check
from bot.config import Config
from bot.proc import run_command

__all__ = ["signing_checks"]

TIMEOUT = 15.0
PAYLOAD = b"taskbot doctor: a test of identity.signing_key\n"
NAMESPACE = "git"  # what git signs commits in, and verifies them against


def signing_checks(config: Config) -> Iterator[Check]:
    key = config.identity.signing_key
    if not key:
        return
    where = f"{config.source}: identity.signing_key = {key}"
    if not shutil.which("ssh-keygen"):
        yield Check("signing", False, f"{where}: ssh-keygen not on PATH: git signs with it; "
                    "install OpenSSH's client")
        return
    mode = _mode(key)
    if mode & 0o077:
        yield Check("signing", False, f"{where}: others may read it (mode {mode:04o}), so "
                    f"ssh-keygen refuses it: chmod 600 {key}")
        return
    signed = run_command(["ssh-keygen", "-Y", "sign", "-n", NAMESPACE, "-f", key], ".",
                         timeout=TIMEOUT, input=PAYLOAD)
    if not signed.ok or "BEGIN SSH SIGNATURE" not in signed.stdout:
        why = signed.error_line or "no signature"
        yield Check("signing", False, f"{where}: does not sign ({why}): use a private key "
                    "without a passphrase, readable only by taskbot's user (mode 0600)")
        return
    yield _verified(config, where, signed.stdout)


def _mode(key: str) -> int:
    try:
        return stat.S_IMODE(os.stat(key).st_mode)
    except OSError:
        return 0  # gone since the configuration was read: ssh-keygen says so


def _verified(config: Config, where: str, signature: str) -> Check:
    signers = config.trust.allowed_signers if config.trust is not None else ""
    email = config.identity.email
    if not signers:
        return Check("signing", True, f"{config.identity.signing_key} signs taskbot's commits")
    with tempfile.TemporaryDirectory(prefix="taskbot-doctor-") as tmp:
        sig = Path(tmp) / "payload.sig"
        sig.write_text(signature, encoding="utf-8")
        verified = run_command(["ssh-keygen", "-Y", "verify", "-f", signers, "-I", email,
                                "-n", NAMESPACE, "-s", str(sig)], ".", timeout=TIMEOUT,
                               input=PAYLOAD)
    if verified.ok:
        return Check("signing", True, f"{config.identity.signing_key} signs taskbot's commits; "
                     f"trust.allowed_signers verifies them as {email}")
    return Check("signing", False, f"{where} signs, but trust.allowed_signers = {signers} does "
                 f"not verify it as {email} ({verified.error_line or 'refused'}): add the line "
                 f"`{email} namespaces=\"git\" {_public(config.identity.signing_key)}` there")


def _public(key: str) -> str:
    """The key's public half (`ssh-keygen -y`), as allowed_signers lists it: type and key,
    without the comment."""
    found = run_command(["ssh-keygen", "-y", "-f", key], ".", timeout=TIMEOUT)
    words = found.stdout.split() if found.ok else []
    return " ".join(words[:2]) if len(words) >= 2 else "PUBLIC-KEY"
