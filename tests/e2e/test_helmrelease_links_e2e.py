"""Issue 17, finding 3, as it was found: a real daemon, its hook and a `git push`.

A task bumps two apps whose HelmRelease files in the GitOps repo are symlinks: one to a
file outside the repository, one to another file inside it. Before, the daemon logged
"complete: 2/2", wrote "Done" in the Progress Log, edited the file outside and committed
nothing. Now both criteria are blocked, the task file says why, nothing is written.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.kit.daemon import TASKBOT, await_entries, idle_and_empty, running_daemon, until
from tests.kit.git import sandbox
from tests.kit.gitops import git
from tests.kit.linked import helmrelease, make_linked_gitops

TASK = """\
---
id: TASK-017
title: Bump the apps
---
# TASK-017: Bump the apps

## Acceptance Criteria
- [ ] Update ffl HelmRelease in beckerkube to version 0.1.18
- [ ] Update web HelmRelease in beckerkube to version 0.1.18

## Progress Log
- 2026-01-05 09:00: created
"""
LINK = "is a symlink; taskbot never follows links in a repository"


@pytest.mark.integration
def test_daemon_blocks_linked_helmreleases_and_the_task_file_says_why(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    outside = tmp_path / "outside" / "ffl.yaml"
    outside.parent.mkdir()
    outside.write_text(helmrelease("ffl"))
    gitops = make_linked_gitops(tmp_path / "gitops", {"clusters/prod/web.yaml": helmrelease("web")}, {
        "apps/ffl/helmrelease.yaml": str(outside),
        "apps/web/helmrelease.yaml": "../../clusters/prod/web.yaml"})
    head = gitops.origin_head()
    with box.config.open("a") as config:
        config.write(f'\n[projects.beckerkube]\npath = "{gitops.clone}"\n'
                     'helmrelease = "apps/{app}/helmrelease.yaml"\n')
    init = subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    state = box.root / "state"

    box.write("tasks/active/TASK-017.md", TASK)
    box.commit_push("add TASK-017")
    await_entries(state, 1)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, idle_and_empty(state))

    text = git(box.bare, "show", "main:tasks/active/TASK-017.md")  # every byte, unstripped
    stamps = re.findall(r"^- (\d{4}-\d{2}-\d{2} \d{2}:\d{2}): Blocked", text, re.MULTILINE)
    assert len(stamps) == 2, text
    day = stamps[0][:10]
    assert text == TASK.replace("title: Bump the apps\n", f"title: Bump the apps\nupdated: {day}\n") \
        + "".join(f"- {stamp}: Blocked: Update {app} HelmRelease in beckerkube to version 0.1.18: "
                  f"beckerkube: apps/{app}/helmrelease.yaml: apps/{app}/helmrelease.yaml {LINK}\n"
                  for stamp, app in zip(stamps, ("ffl", "web"), strict=True))
    assert outside.read_text() == helmrelease("ffl")
    assert (gitops.clone / "clusters/prod/web.yaml").read_text() == helmrelease("web")
    assert gitops.origin_head() == head
    assert "complete" not in (tmp_path / "serve.log").read_text()

