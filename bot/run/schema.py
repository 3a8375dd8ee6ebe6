"""The report's published JSON Schema (`report.schema.json`, shipped beside this module and
copied to docs/): what `to_json` makes, for an orchestrator to check against."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_FILE", "report_schema"]

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


@cache
def report_schema() -> dict[str, Any]:
    """The schema as a document (read once; callers must not change it)."""
    doc: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return doc
