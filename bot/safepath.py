"""Files inside a repository or project directory, reached without following a link.

A push decides what a repository holds, symlinks included: `apps/ffl/release.yaml ->
/etc/…` or `docs -> /elsewhere` would make a read or an edit land outside it. Here the
root (the operator's configured directory, trusted as given) is opened once, and every
component of the relative path below it is opened relative to the one before
(`openat`), with `O_NOFOLLOW`: a link anywhere along the path, or as the file itself, is
refused with `UnsafePath` naming the file and the link, and nothing is read or written.
Writes are atomic: a temp file in the same directory (by its descriptor) renamed over
the name, so a link swapped in meanwhile is replaced, never written through.

Relative paths only; a `..` component is refused (it could climb out of the root).
Missing files raise OSError as `open` would (FileNotFoundError …).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path, PurePosixPath

from bot.errors import TaskbotError
from bot.text.tempname import stem
from bot.text.textcap import escape_controls

__all__ = ["UnsafePath", "dir_inside", "files_inside", "read_inside", "write_inside"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_LINKISH = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)  # what O_NOFOLLOW says for a link


class UnsafePath(TaskbotError):
    """A path inside a repository that taskbot will not use: a link along it, `..`, or a
    file that is not a regular file. The message is one line naming the file."""


def _shown(text: str) -> str:
    return escape_controls(text, "", one_line=True)


def _link(rel: str, link: str) -> UnsafePath:
    return UnsafePath(f"{_shown(rel)}: {_shown(link)} is a symlink; taskbot never follows "
                      "links in a repository")


def _parts(rel: str, *, file: bool = True) -> tuple[str, ...]:
    """The components of `rel` (none for "." when not a `file`); UnsafePath for an
    absolute path, `..` or an empty one."""
    path = PurePosixPath(rel)
    if not rel or path.is_absolute() or ".." in path.parts or (file and not path.parts):
        raise UnsafePath(f"{_shown(rel)}: not a relative path inside the repository "
                         "(absolute, empty or with `..`)")
    return path.parts


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _open_child(dir_fd: int, name: str, rel: str, shown: str, flags: int = _DIR_FLAGS) -> int:
    """`name` in `dir_fd`, opened without following it; UnsafePath when it is a link."""
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _LINKISH and _is_link(dir_fd, name):
            raise _link(rel, shown) from None
        raise type(exc)(exc.errno, exc.strerror, rel) from None  # the path, not one name


def _open_dir(root: Path | str, parts: tuple[str, ...], rel: str) -> int:
    """A descriptor of root/parts…, each component checked; the caller closes it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for i, name in enumerate(parts):
            child = _open_child(fd, name, rel, "/".join(parts[: i + 1]))
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def dir_inside(root: Path | str, rel: str) -> None:
    """Returns when root/rel is a directory reached through no link; UnsafePath when a
    link is on the way, OSError (FileNotFoundError, NotADirectoryError) as `open` says."""
    os.close(_open_dir(root, _parts(rel, file=False), rel))


def read_inside(root: Path | str, rel: str) -> bytes:
    """The bytes of the regular file root/rel, no link followed on the way or at the end."""
    parts = _parts(rel)
    dir_fd = _open_dir(root, parts[:-1], rel)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC  # a FIFO must not hang
        fd = _open_child(dir_fd, parts[-1], rel, rel, flags)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UnsafePath(f"{_shown(rel)}: not a regular file")
        return f.read()


def write_inside(root: Path | str, rel: str, data: bytes, mode: int = 0o644) -> None:
    """root/rel holds `data` (atomically: temp file beside it, renamed over it).

    The directories on the way must exist and be no links; the file itself, when it
    exists, must be a regular file (its permission bits are kept), else `mode`.
    """
    parts = _parts(rel)
    dir_fd = _open_dir(root, parts[:-1], rel)
    try:
        mode = _existing_mode(dir_fd, parts[-1], rel, mode)
        tmp = f".{stem(parts[-1])}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC,
                     0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
            os.rename(tmp, parts[-1], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _existing_mode(dir_fd: int, name: str, rel: str, default: int) -> int:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return default
    if stat.S_ISLNK(st.st_mode):
        raise _link(rel, rel)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{_shown(rel)}: not a regular file")
    return stat.S_IMODE(st.st_mode)


def files_inside(root: Path | str, rel: str) -> list[str]:
    """Every regular file under the directory root/rel (paths relative to root, sorted);
    UnsafePath at the first link found there or on the way (its target may hold anything)."""
    parts = _parts(rel, file=False)
    fd = _open_dir(root, parts, rel)
    try:
        return sorted(_walk(fd, "/".join(parts)))
    finally:
        os.close(fd)


def _walk(dir_fd: int, prefix: str) -> list[str]:
    found: list[str] = []
    with os.scandir(dir_fd) as entries:
        listed = sorted(entries, key=lambda e: e.name)
    for entry in listed:
        rel = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_symlink():
            raise _link(rel, rel)
        if entry.is_dir(follow_symlinks=False):
            sub = _open_child(dir_fd, entry.name, rel, rel)
            try:
                found.extend(_walk(sub, rel))
            finally:
                os.close(sub)
        elif entry.is_file(follow_symlinks=False):
            found.append(rel)
    return found
