"""build: preconditions, the environment the build sees, the registry check, the diagnosis."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.api import Context, Status
from bot.errors import ParamError
from handlers.build import HANDLER as BUILD
from tests.kit.context import make_ctx, registry_section
from tests.kit.registry import RegistryServer, free_port, push_image

pytest_plugins = ["tests.kit.plugin"]

SCRIPT = """#!/bin/sh
echo "REGISTRY_URL=$REGISTRY_URL VERSION=$VERSION PUSH=$PUSH ARGS=$*" > seen-env
touch ran
sleep "${SLEEP:-0}"
"""


def _project(root: Path, *, git: bool = True, executable: bool = True) -> Path:
    (root / "scripts").mkdir(parents=True)
    script = root / "scripts" / "build.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755 if executable else 0o644)
    (root / ".env.build.local").write_text("export REGISTRY_URL='10.0.0.9:5000'\n")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _ctx(tmp_path: Path, registry: dict[str, Any], **limits: str) -> Context:
    return make_ctx({"registry": registry, "limits": {"retries": 0, **limits},
                     "projects": {"bld": {"path": str(tmp_path / "bld"),
                                          "build": ["./scripts/build.sh", "--push", "all"],
                                          "images": ["bld/one"], "env": {"SLEEP": "0"}}}},
                    tmp_path)


def _run(ctx: Context, **params: str) -> Any:
    return BUILD.run(BUILD.settings({"project": "bld", "version": "1.0.0", **params}, ctx), ctx)


@pytest.mark.integration
def test_build_sees_its_environment_and_the_registry_is_checked(
        tmp_path: Path, registry: RegistryServer) -> None:
    root = _project(tmp_path / "bld")
    ctx = _ctx(tmp_path, registry_section(registry))
    outcome = _run(ctx)
    assert (root / "seen-env").read_text() == (
        f"REGISTRY_URL={registry.host} VERSION=1.0.0 PUSH=true ARGS=--push all\n")
    # the script pushed nothing: the registry check fails and the diagnosis says what it saw
    assert outcome.status is Status.FAILED
    assert outcome.reason == f"build ran, but registry {registry.host} lacks bld/one:1.0.0"
    diagnosis = "\n".join(outcome.diagnosis)
    assert f"free disk in {root}:" in diagnosis
    assert f"no Dockerfile or Containerfile found in {root}" in diagnosis
    assert f"registry GET /v2/: registry {registry.host} reachable, credentials accepted" in diagnosis
    assert (f"REGISTRY_URL in .env.build.local is 10.0.0.9:5000, but the configured registry is "
            f"{registry.host}") in diagnosis
    assert "404 (tags present: none: no such repository)" in outcome.evidence[0]

    push_image(registry, tmp_path, "bld/one", "1.0.0")
    outcome = _run(ctx)
    assert outcome.status is Status.DONE
    assert outcome.commands[0].argv == ("./scripts/build.sh", "--push", "all")
    assert outcome.commands[0].cwd == str(root)
    assert "→ 200 bld/one:1.0.0 sha256:" in outcome.evidence[0]


def test_preconditions_block_without_running_the_build(tmp_path: Path) -> None:
    gone = {"url": f"127.0.0.1:{free_port()}"}
    ctx = _ctx(tmp_path, gone)
    assert _run(ctx).reason == f"project directory {tmp_path / 'bld'} does not exist"
    root = _project(tmp_path / "bld", git=False, executable=False)
    assert _run(ctx).reason == f"project directory {root} is not a git repository"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert _run(ctx).reason == ("build command ./scripts/build.sh is not executable "
                                "(chmod +x ./scripts/build.sh)")
    (root / "scripts" / "build.sh").chmod(0o755)
    outcome = _run(ctx)
    assert outcome.status is Status.BLOCKED
    assert outcome.reason.startswith(f"registry https://{gone['url']} unreachable:")
    assert not (root / "ran").exists()
    # push=false: no registry needed, nothing checked
    outcome = _run(ctx, push="false")
    assert outcome.status is Status.DONE and outcome.evidence == ("push=false: registry not checked",)
    assert "PUSH=false" in (root / "seen-env").read_text()


def test_build_timeout_is_the_build_limit(tmp_path: Path) -> None:
    _project(tmp_path / "bld")
    ctx = make_ctx({"registry": {"url": "x:1"}, "limits": {"build_timeout": "1s"},
                    "projects": {"bld": {"path": str(tmp_path / "bld"),
                                         "build": ["./scripts/build.sh"], "env": {"SLEEP": "20"}}}},
                   tmp_path)
    outcome = _run(ctx, push="false")
    assert outcome.status is Status.FAILED
    assert outcome.reason == "./scripts/build.sh timed out after 1s"


@pytest.mark.integration
def test_untrusted_registry_certificate_blocks(tmp_path: Path, registry: RegistryServer) -> None:
    _project(tmp_path / "bld")
    ctx = _ctx(tmp_path, registry_section(registry, ca_file=""))
    outcome = _run(ctx)
    assert outcome.status is Status.BLOCKED and "not trusted" in outcome.reason
    assert "set registry.ca_file" in outcome.reason


def test_parameters_are_checked(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": "x:1"},
                    "projects": {"bld": {"path": str(tmp_path)}, "ok": {"path": str(tmp_path),
                                                                        "build": ["make"]}}},
                   tmp_path)
    cases = [({"project": "bld", "version": "1"}, "project 'bld' has no build command"),
             ({"project": "ok", "version": "1", "push": "maybe"}, "push must be true or false"),
             ({"project": "ok", "version": "1", "tag": "x"}, "unknown parameter 'tag'"),
             ({"project": "ok"}, "needs project=NAME and version=VERSION"),
             ({"project": "nope", "version": "1"}, "project 'nope' is not configured")]
    for params, why in cases:
        with pytest.raises(ParamError) as info:
            BUILD.settings(params, ctx)
        assert why in str(info.value)
