"""A whole taskbot workspace for end-to-end tests: config, FFL project, GitOps repos, a task."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.commands.sandbox import write_config
from tests.kit.context import registry_section
from tests.kit.gitops import GitOps, make_gitops
from tests.kit.registry import RegistryServer, make_build_project

TASK = """\
---
id: TASK-001
title: Release FFL @VERSION@
priority: high
status: active
---
# TASK-001: Release FFL @VERSION@

## Acceptance Criteria
@CRITERIA@

## Progress Log
- 2025-10-17 14:30: created
"""

RELEASE = [
    "- [ ] Build all FFL containers with version @VERSION@",
    "- [ ] Push all FFL images to registry @HOST@",
    "- [ ] Update ffl HelmRelease in beckerkube to version @VERSION@",
]


@dataclass
class Workspace:
    root: Path
    config: Path
    task: Path
    gitops: GitOps
    registry: RegistryServer

    def write_task(self, version: str, criteria: list[str] | None = None) -> Path:
        lines = "\n".join(criteria if criteria is not None else RELEASE)
        text = TASK.replace("@CRITERIA@", lines).replace("@VERSION@", version)
        self.task.write_text(text.replace("@HOST@", self.registry.host))
        return self.task

    def add_config(self, text: str) -> None:
        self.config.write_text(self.config.read_text() + text)

    def run(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        code = main(["--config", str(self.config), "run", str(self.task), "--json"])
        return code, json.loads(capsys.readouterr().out)


def make_workspace(root: Path, registry: RegistryServer, *, password: str | None = None,
                   build_project: bool = True) -> Workspace:
    password_file = registry.password_file
    if password is not None:
        password_file = root / "wrong-password"
        password_file.write_text(password + "\n")
    if build_project:
        make_build_project(root / "ffl", registry)
    else:
        (root / "ffl").mkdir()
    gitops = make_gitops(root / "gitops", registry.host)
    config = write_config(root / "taskbot.toml", {
        "repo": {"path": root, "tasks_dir": "tasks/active", "state_dir": root / "state"},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"anyone": True},
        "limits": {"retries": 1, "command_timeout": "60s", "build_timeout": "120s"},
        "registry": registry_section(registry, password_file=str(password_file)),
        "projects.ffl": {
            "path": root / "ffl", "build": ["./scripts/build.sh", "--push", "all"],
            "images": ["ffl/backend", "ffl/frontend"],
            "env": {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD_FILE": password_file,
                    "REGISTRY_CERT_DIR": registry.cert_dir}},
        "projects.beckerkube": {
            "path": root / "gitops" / "beckerkube", "helmrelease": "apps/{app}/helmrelease.yaml",
            "kustomize": ["clusters/minikube"], "sec_lint": ["./scripts/sec-lint.sh"]},
    })
    tasks = root / "tasks" / "active"
    tasks.mkdir(parents=True)
    return Workspace(root, config, tasks / "TASK-001.md", gitops, registry)
