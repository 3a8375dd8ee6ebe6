"""The bench scripts run (`--smoke`: few iterations) and print their figures. No timing asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.daemon import REPO_ROOT, env_for

pytestmark = pytest.mark.integration

FIGURES = {
    "hook_overhead.py": ["hook_overhead.ratio", "hook_overhead.noop_hook_ratio",
                         "hook_overhead.push_median_with_taskbot_hook"],
    "push_latency.py": ["push_latency.handler_start_median", "push_latency.handler_start_p90",
                        "push_latency.bot_commit_median"],
    "detect_scaling.py": ["detect_scaling.small_10_tasks", "detect_scaling.large_10000_active",
                          "detect_scaling.ratio_all_active"],
    "idle.py": ["idle.rss", "idle.cpu"],
    "webhook_latency.py": ["webhook_latency.handler_start_median",
                           "webhook_latency.handler_start_p90",
                           "webhook_latency.post_answered_median",
                           "webhook_latency.bot_commit_median", "webhook_latency.fetch_alone"],
    "webhook_load.py": ["webhook_load.queued", "webhook_load.answer_median",
                        "webhook_load.rss_growth"],
    "soak.py": ["soak.state_dir_mb", "soak.commit_ratio", "soak.rss_growth_mb"],
    "dashboard_scaling.py": ["dashboard_scaling.ratio_dashboard_1000_mostly_completed",
                             "dashboard_scaling.ratio_dashboard_1000_all_active"],
    "merge_scaling.py": ["merge_scaling.merge_file_8000_a_side_wall",
                         "merge_scaling.per_entry_ratio"],
    "parallel_groups.py": ["parallel_groups.ratio_parallel_4", "parallel_groups.ratio_sequential",
                           "parallel_groups.wall_parallel_4"],
}
NUMBER = re.compile(r"^(?P<key>[\w.]+): -?\d+(\.\d+)?( |$)")


def test_every_bench_script_prints_its_figures(tmp_path: Path) -> None:
    procs = {}
    for name in FIGURES:  # side by side: the figures are not judged here, only printed
        out = (tmp_path / f"{name}.out").open("w+")
        procs[name] = (subprocess.Popen([sys.executable, str(REPO_ROOT / "bench" / name),
                                         "--smoke"], stdout=out, stderr=subprocess.STDOUT,
                                        env=env_for(None), cwd=tmp_path), out)
    try:
        for name, (proc, out) in procs.items():
            assert proc.wait(120) == 0, f"{name} failed:\n{Path(out.name).read_text()}"
            printed = Path(out.name).read_text()
            keys = {m["key"] for m in map(NUMBER.match, printed.splitlines()) if m}
            missing = [k for k in FIGURES[name] if k not in keys]
            assert not missing, f"{name} did not print {missing}:\n{printed}"
    finally:
        for proc, out in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()
