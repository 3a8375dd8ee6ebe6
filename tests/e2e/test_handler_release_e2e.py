"""The whole release through `taskbot run`: build and push with a real registry, check the
images, bump the HelmRelease in the GitOps repo, validate, commit and push it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.kit.gitops import HELMRELEASE, git
from tests.kit.registry import RegistryServer, push_image
from tests.kit.workspace import make_workspace

pytest_plugins = ["tests.kit.plugin"]

pytestmark = pytest.mark.integration

HR_PATH = "apps/ffl/helmrelease.yaml"


def _registry_digest(registry: RegistryServer, name: str, tag: str) -> str | None:
    from bot.registry import RegistryClient

    return RegistryClient(registry.host, str(registry.ca_file), False, registry.username,
                          registry.password).digest(name, tag)


def test_release_builds_pushes_and_bumps_the_helmrelease(
        tmp_path: Path, registry: RegistryServer, capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path, registry)
    ws.write_task("0.1.18")
    clone_head = git(ws.gitops.clone, "rev-parse", "HEAD")
    clone_bytes = (ws.gitops.clone / HR_PATH).read_bytes()
    origin_before = ws.gitops.origin_head()

    code, report = ws.run(capsys)

    assert code == 0, report["criteria"]
    assert [c["outcome"] for c in report["criteria"]] == ["done", "done", "done"]
    assert [c["handler"] for c in report["criteria"]] == ["build", "image", "helmrelease"]
    assert report["criteria"][1]["params"] == {"project": "FFL", "registry": registry.host,
                                               "version": "0.1.18"}  # version inherited
    text = ws.task.read_text()
    assert text.count("- [x] ") == 3 and "- [ ] " not in text
    # the images are in the registry
    for name in ("ffl/backend", "ffl/frontend"):
        digest = _registry_digest(registry, name, "0.1.18")
        assert digest is not None
        assert any(digest in e for e in report["criteria"][1]["evidence"])
    # exactly one commit on origin main, changing exactly the two tag scalars
    assert git(ws.gitops.origin, "rev-list", "--count", f"{origin_before}..main").strip() == "1"
    assert git(ws.gitops.origin, "rev-parse", "main^").strip() == origin_before
    expected = (HELMRELEASE.replace("{registry}", registry.host)
                .replace("tag: 0.1.17   #", "tag: 0.1.18   #")
                .replace('tag: "0.1.17"', 'tag: "0.1.18"'))
    assert ws.gitops.origin_file(HR_PATH) == expected
    diff = git(ws.gitops.origin, "diff", "--unified=0", f"{origin_before}..main")
    changed = [line for line in diff.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert sorted(changed) == sorted(["-        tag: 0.1.17   # keep this comment",
                                      "+        tag: 0.1.18   # keep this comment",
                                      '-        tag: "0.1.17"', '+        tag: "0.1.18"'])
    assert git(ws.gitops.origin, "diff", "--name-only", f"{origin_before}..main").split() == [HR_PATH]
    message = git(ws.gitops.origin, "log", "-1", "--format=%B%n--%n%an <%ae>", "main")
    assert message.startswith("taskbot(TASK-001): ffl image tag 0.1.17 → 0.1.18\n")
    assert "Task-Id: TASK-001\n" in message and "Taskbot-Run: " in message
    assert message.rstrip().endswith("taskbot <taskbot@build-host>")
    trailers = subprocess.run(["git", "interpret-trailers", "--parse"], input=message.split("--\n")[0],
                              capture_output=True, text=True, check=True).stdout
    assert "Task-Id: TASK-001" in trailers
    # the operator's clone is untouched
    assert git(ws.gitops.clone, "rev-parse", "HEAD") == clone_head
    assert (ws.gitops.clone / HR_PATH).read_bytes() == clone_bytes
    assert git(ws.gitops.clone, "status", "--porcelain") == ""
    # the report names the change and the validation commands
    assert {"repo": "beckerkube", "path": HR_PATH, "what": "image tag 0.1.17 → 0.1.18"} \
        in report["changes"]
    argvs = [c["argv"] for c in report["criteria"][2]["commands"]]
    assert ["kubectl", "kustomize", "clusters/minikube"] in argvs
    assert ["./scripts/sec-lint.sh"] in argvs


def test_wrong_password_fails_the_build_and_blocks_the_bump(
        tmp_path: Path, registry: RegistryServer, capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path, registry, password="not-the-password")
    ws.write_task("0.2.7")  # a version no other test pushes to the shared registry
    origin_before = ws.gitops.origin_head()

    code, report = ws.run(capsys)

    assert code == 1
    build, image, bump = report["criteria"]
    assert build["outcome"] == "failed" and build["attempts"] == 2  # retried once
    assert "./scripts/build.sh --push all exited 1" in build["reason"]
    assert any("credentials refused" in d for d in build["diagnosis"]), build["diagnosis"]
    assert any("unauthorized" in d for d in build["diagnosis"])
    assert any("Containerfile" in d for d in build["diagnosis"])
    assert any("REGISTRY_URL in .env.build.local matches" in d for d in build["diagnosis"])
    assert "not-the-password" not in str(report)
    assert image["outcome"] == "blocked" and "credentials refused" in image["reason"]
    assert bump["outcome"] == "blocked"
    assert "ffl/backend:0.2.7" in bump["reason"] and "not confirmed in registry" in bump["reason"]
    # nothing changed in the GitOps repo, nothing in the registry, no box ticked
    assert ws.gitops.origin_head() == origin_before
    assert git(ws.gitops.origin, "branch", "--list", "taskbot/*") == ""
    assert _registry_digest(registry, "ffl/backend", "0.2.7") is None
    assert ws.task.read_text().count("- [ ] ") == 3
    assert "Failed: Build all FFL containers" in ws.task.read_text()


def test_kustomize_failure_commits_nothing_and_reports_the_error(
        tmp_path: Path, registry: RegistryServer, capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path, registry, build_project=False)
    for name in ("ffl/backend", "ffl/frontend"):
        push_image(registry, tmp_path, name, "0.3.0")
    # someone removes a resource file but leaves it in the kustomization
    other = tmp_path / "other-clone"
    subprocess.run(["git", "clone", "-q", str(ws.gitops.origin), str(other)], check=True)
    git(other, "rm", "-q", "apps/ffl/namespace.yaml")
    git(other, "commit", "-qm", "drop namespace")
    git(other, "push", "-q", "origin", "main")
    origin_before = ws.gitops.origin_head()
    ws.write_task("0.3.0", ["- [ ] Update ffl HelmRelease in beckerkube to version 0.3.0"])

    code, report = ws.run(capsys)

    assert code == 1
    (bump,) = report["criteria"]
    assert bump["outcome"] == "failed"
    assert bump["reason"].startswith("validation failed, nothing committed: kubectl kustomize "
                                     "clusters/minikube exited 1: ")
    assert "namespace.yaml" in bump["reason"]
    assert ws.gitops.origin_head() == origin_before
    assert git(ws.gitops.origin, "branch", "--list", "taskbot/*") == ""
    assert report["changes"][-1]["path"].endswith("TASK-001.md")  # only the task file changed
    assert len(report["changes"]) == 1
