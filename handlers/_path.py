"""Programs on PATH and free disk space, for the handlers that look for them."""

from __future__ import annotations


def which(program: str) -> str | None:
    import shutil  # noqa: PLC0415 -- with bz2 and lzma ~3 ms, that `plan` mostly need not pay

    return shutil.which(program)


def free_bytes(path: str) -> int:
    """Free space on the file system holding `path`; OSError when it cannot be read."""
    import shutil  # noqa: PLC0415 -- as in which

    return shutil.disk_usage(path).free
