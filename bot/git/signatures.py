"""Commits whose ssh signature verified: `state_dir/verified-signatures`, one sha a line.

Trust verifies every commit that ever changed a task file about to run. Without a record,
each push verified the file's whole history again, one `git verify-commit` (and ssh-keygen)
per commit: 1.2 s for a history of 41 commits, growing with it. A commit's sha covers its
signature, so a good verdict holds for as long as `allowed_signers` says the same: the
record's first line is that file's sha256, and a record made for other signers counts for
nothing. Only good signatures are recorded; a bad one is simply refused again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from bot.atomic import write_atomic
from bot.errors import TaskbotError
from bot.git import read
from bot.state.statedir import VERIFIED_SIGNATURES, owned, read_owned

__all__ = ["Signatures"]



class Signatures:
    """The signatures of one trust check: what the record says, and what it verifies."""

    def __init__(self, state_dir: Path | str, allowed_signers: str) -> None:
        self._path = Path(state_dir) / VERIFIED_SIGNATURES
        self._signers = allowed_signers
        self._header = f"signers {_key(allowed_signers)}"
        self._kept, self._good = _load(self._path, self._header)

    def verified(self, git_dir: Path, sha: str) -> bool:
        if sha in self._good:
            return True
        if not read.verify_commit(git_dir, sha, self._signers):
            return False
        self._good.add(sha)
        with contextlib.suppress(OSError, TaskbotError):  # a record never fails a check
            self._record(sha)
        return True

    def _record(self, sha: str) -> None:
        """Appended, not fsync'd: a record lost in a crash only means verifying once more."""
        if self._header == "signers " or not self._path.parent.is_dir():
            return  # nothing to key the record on, or no state dir (yet): verify again later
        if not self._kept:  # none yet, or made for other signers: start afresh
            text = "".join(f"{line}\n" for line in (self._header, *sorted(self._good)))
            write_atomic(owned(self._path), text.encode(), 0o644)
            self._kept = True
            return
        fd = os.open(owned(self._path), os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        try:
            os.write(fd, f"{sha}\n".encode())
        finally:
            os.close(fd)


def _key(allowed_signers: str) -> str:
    """The signers file's sha256; "" when it cannot be read."""
    try:
        return hashlib.sha256(Path(allowed_signers).read_bytes()).hexdigest()
    except OSError:
        return ""


def _load(path: Path, header: str) -> tuple[bool, set[str]]:
    """Whether the record was made for these signers, and the shas it holds then."""
    try:
        lines = read_owned(path).decode("ascii", errors="replace").split("\n")
    except (OSError, TaskbotError):  # none yet, or not taskbot's own: nothing counts as verified
        return False, set()
    if lines[0] != header:
        return False, set()
    return True, {line for line in lines[1:] if len(line) in (40, 64)}  # not a torn line
