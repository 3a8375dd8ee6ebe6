"""Run every bench script in turn and print their figures (`--smoke`: few iterations)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = ("hook_overhead.py", "push_latency.py", "detect_scaling.py", "idle.py", "cli_speed.py",
           "webhook_latency.py", "webhook_load.py", "hostile_parse.py", "merge_scaling.py",
           "dashboard_scaling.py", "mcp_plan.py",
           "parallel_groups.py")  # bench/soak.py runs on its own: 2,000 pushes, ~20 min


def main() -> int:
    extra = sys.argv[1:]
    status = 0
    for name in SCRIPTS:
        started = time.monotonic()
        print(f"== {name} {' '.join(extra)}".rstrip(), flush=True)
        done = subprocess.run([sys.executable, str(Path(__file__).with_name(name)), *extra],
                              check=False)
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        status = status or done.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
