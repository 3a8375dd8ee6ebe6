"""What the daemon asks of the pipeline: `Backend`, the calls it holds. Apart from the
pipeline's own backend (`bot.daemon.backend`), so the loop and the stall guard depend on
the calls only, and a test hands the daemon any backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.daemon import spool
from bot.pipeline.items import OnStatus, Processed

__all__ = ["Backend", "InFlightFn", "Log", "ProcessFn", "QuarantineFn", "ResumeFn"]

ProcessFn = Callable[[spool.Line, Callable[[], bool], OnStatus, datetime],
                     Sequence[Processed]]
ResumeFn = Callable[[Callable[[], bool], OnStatus, datetime], Sequence[Processed]]
# The item in flight (its journal's item) as it stands, for the stall guard's record.
InFlightFn = Callable[[], Mapping[str, Any]]
# Given up on that item: it is never resumed; says what was not run.
QuarantineFn = Callable[[Mapping[str, Any]], str]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Backend:
    """Process one spool line; resume a killed daemon's item; where watch mode looks."""

    process: ProcessFn
    watch_target: Callable[[], tuple[Path, str]] | None = None  # None: hook mode
    resume: ResumeFn | None = None
    in_flight: InFlightFn | None = None
    quarantine: QuarantineFn | None = None
