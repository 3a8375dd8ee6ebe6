"""(a) `git push` time with taskbot's post-receive hook ÷ without any hook.

Three bare repositories: one with the hook `taskbot init` installs, one with no hook,
and one with a no-op `exit 0` hook, the floor any hook at all costs (git starts a
process for it). Pushes of one small commit rotate between them, so that drift and
other load hit all three alike. A pid file marks the daemon as up (this process), so
the hook takes its usual path without a daemon competing for the CPU.
Target: ratio ≤ 1.05.
"""

from __future__ import annotations

import os

from benchlib import make_sandbox, median, ms, parse_args, verdict, workdir

TARGET = 1.05


def main() -> None:
    args = parse_args(__doc__, default_n=60, smoke_n=5)
    with workdir() as root:
        hooked = make_sandbox(root / "hooked", hook=True)
        (hooked.state / "daemon.pid").write_text(f"{os.getpid()}\n")
        plain = make_sandbox(root / "plain", hook=False)
        noop = make_sandbox(root / "noop", hook=False)
        noop_hook = noop.bare / "hooks" / "post-receive"
        noop_hook.write_text("#!/bin/sh\nexit 0\n")
        noop_hook.chmod(0o755)
        times: dict[str, list[float]] = {"hook": [], "none": [], "noop": []}
        boxes = {"hook": hooked, "none": plain, "noop": noop}
        for i in range(args.n + 3):
            for name, box in boxes.items():
                box.commit(f"notes/{i}.txt", f"{i}\n", f"push {i}")
                elapsed = box.push()
                if i >= 3:  # the first pushes warm the caches
                    times[name].append(elapsed)
        queued = len(list((hooked.state / "queue").glob("*.push")))
        ratio = median(times["hook"]) / median(times["none"])
        floor = median(times["noop"]) / median(times["none"])
        print(f"hook_overhead.pushes: {len(times['hook'])} each")
        print(f"hook_overhead.push_median_without_hook: {ms(median(times['none']))}")
        print(f"hook_overhead.push_median_with_taskbot_hook: {ms(median(times['hook']))}")
        print(f"hook_overhead.push_median_with_noop_hook: {ms(median(times['noop']))}")
        print(f"hook_overhead.ratio: {ratio:.3f} (target <= {TARGET}: {verdict(ratio <= TARGET)})")
        print(f"hook_overhead.noop_hook_ratio: {floor:.3f} (what any hook costs here)")
        print(f"hook_overhead.queued_entries: {queued}")


if __name__ == "__main__":
    main()
