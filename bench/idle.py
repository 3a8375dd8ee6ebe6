"""(e) The idle daemon: resident memory and CPU over 30 s, read from /proc.

`taskbot serve` runs as a subprocess on a sandbox (hook mode, empty queue); after
READY=1 and a short settling time, utime+stime are read from /proc/PID/stat at the
start and the end of the window, and VmRSS/VmHWM from /proc/PID/status at the end.
Targets: ≤ 60 MB and ≤ 0.1 % CPU.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchlib import daemon, idle, make_sandbox, parse_args, verdict, workdir

TARGET_MB = 60.0
TARGET_CPU = 0.1  # percent of one CPU


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise LookupError(key)


def main() -> None:
    args = parse_args(__doc__, default_n=30, smoke_n=1)  # n: seconds
    with workdir() as root:
        box = make_sandbox(root)
        with daemon(box) as served:
            proc = served.proc
            idle(served)
            time.sleep(1.0)  # settle: the window starts once start-up is over
            cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.n)
            cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
            rss = _status_kb(proc.pid, "VmRSS") / 1024
            hwm = _status_kb(proc.pid, "VmHWM") / 1024
            threads = len(os.listdir(f"/proc/{proc.pid}/task"))
    cpu = (cpu1 - cpu0) / (t1 - t0) * 100
    print(f"idle.window: {t1 - t0:.1f} s")
    print(f"idle.rss: {rss:.1f} MB (peak {hwm:.1f} MB; target <= {TARGET_MB:.0f} MB: "
          f"{verdict(rss <= TARGET_MB)})")
    print(f"idle.cpu: {cpu:.3f} % ({cpu1 - cpu0:.2f} s of CPU; target <= {TARGET_CPU} %: "
          f"{verdict(cpu <= TARGET_CPU)}; /proc counts in 1/{os.sysconf('SC_CLK_TCK')} s)")
    print(f"idle.threads: {threads}")


if __name__ == "__main__":
    main()
