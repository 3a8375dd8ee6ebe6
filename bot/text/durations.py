"""Durations as users write them ("10m", "1h30m", "500ms", 90) and as taskbot prints them."""

from __future__ import annotations

import math
import re

__all__ = ["elapsed_text", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_WHOLE_RE = re.compile(rf"(?:{_PART})+")
_PART_RE = re.compile(_PART)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like "30s", "10m", "1h30m", "500ms", "90".

    Raises ValueError (with a short reason) for anything else, including negatives,
    booleans, NaN and infinity.
    """
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "30s", "10m", "1h30m" or seconds')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if _NUMBER_RE.fullmatch(text):
            seconds = float(text)
        elif _WHOLE_RE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART_RE.findall(text))
        else:
            raise ValueError(
                f'invalid duration {value!r} (use e.g. "30s", "10m", "1h30m", "500ms")'
            )
    else:
        raise ValueError('expected a duration such as "30s", "10m", "1h30m" or seconds')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r} (must be a finite, non-negative time)")
    return seconds


def format_duration(seconds: float) -> str:
    """The short form users write: 0.5 -> "500ms", 2 -> "2s", 90 -> "1m30s", 5400 -> "1h30m"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:.3g}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def elapsed_text(seconds: float) -> str:
    """Whole seconds, as a clock a person glances at: 7s, 1m05s, 1h02m."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"
