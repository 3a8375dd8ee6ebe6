"""`bench/chaos.py --smoke`: ten kill -9 of the daemon amid pushes; every checked column is 0."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.kit.daemon import REPO_ROOT, env_for

pytestmark = pytest.mark.integration

CHECKED = ("ran_twice", "runs_lost", "broken_commits", "edits_lost", "unauthorized")
ROW = re.compile(r"^(?P<key>\w+)\s+(?P<value>\d+)$")


@pytest.mark.timeout(300)  # ~30 s on a quiet 2-core machine; far longer under load
def test_chaos_smoke_loses_nothing_and_runs_nothing_twice() -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "chaos.py"), "--smoke",
                           "--seed", "1"], check=False, capture_output=True, text=True, env=env_for(None),
                          cwd=REPO_ROOT, timeout=240)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    columns = {m["key"]: int(m["value"]) for m in map(ROW.match, done.stdout.splitlines()) if m}
    assert columns.get("kills", 0) >= 10, printed
    assert {k: columns.get(k) for k in CHECKED} == dict.fromkeys(CHECKED, 0), printed
