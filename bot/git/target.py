"""Where a run's work goes (`Target`) and where it ended up (`Integrated`): the records
write-back and the pipeline share, apart from the integration that fills them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Integrated", "Target"]


@dataclass(frozen=True)
class Integrated:
    commit: str  # the commit that ended up on the branch, or the kept one
    on_branch: bool
    note: str  # what happened, for the report when it is not the plain case


@dataclass(frozen=True)
class Target:
    """Where the work goes: a bare repository reached through `origin`, or a watched clone."""

    clone: Path  # taskbot's private clone (of the bare repository, or of the watched clone)
    bare_origin: bool
    branch: str  # repo.branch
    work_branch: str  # taskbot/<TASK-ID>
    watched: Path | None = None  # watch mode: the person's clone whose branch advances

    @property
    def person(self) -> Path:
        """Where repo.branch lives in watch mode: the person's clone (else taskbot's own)."""
        return self.watched or self.clone
