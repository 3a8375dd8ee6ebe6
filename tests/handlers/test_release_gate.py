"""The release gate against the Kubernetes stand-in playing Flux: a bump is rolled out and
verified, or rolled back by a new commit on the GitOps branch (issue 19).

Real git (tasks, GitOps origin and clone), real kubectl, a real registry; the stand-in
applies the GitOps branch's HelmRelease when kubectl asks for a reconcile, and the test
scripts what the release then does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.kit.flux import CRASHLOOP, NEVER, READY, UPGRADE_FAILS
from tests.kit.gitops import git
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer
from tests.kit.release import BUMP, HR_PATH
from tests.kit.release import gate_workspace as _gate
from tests.kit.release import subjects as _log

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.kit.plugin"]


def test_a_healthy_release_is_reconciled_without_flux_and_verified_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 0 and bump["outcome"] == "done", bump
    assert player.applied == ["0.2.0"]  # the annotation made the stand-in reconcile, once
    annotate = [c["argv"] for c in bump["commands"] if "annotate" in c["argv"]]
    assert len(annotate) == 1 and annotate[0][-1].startswith("reconcile.fluxcd.io/requestedAt=")
    assert any(r.startswith("PATCH /apis/helm.toolkit.fluxcd.io/v2/namespaces/ffl/helmreleases/ffl")
               for r in kube.state.requests)
    assert "Deployment/ffl-backend: 1 updated, 1 ready, 1 available of 1" in bump["evidence"]
    assert _log(ws)[0] == "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"


def test_a_new_chart_version_reconciles_its_source_first_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    ws.write_task("0.2.0", [BUMP + " <!-- taskbot: helmrelease app=ffl version=0.2.0 "
                            "chart=1.5.0 project=beckerkube -->"])
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 0 and bump["outcome"] == "done", bump
    patches = [r.split("?")[0] for r in kube.state.requests if r.startswith("PATCH ")]
    assert patches == [
        "PATCH /apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/helmrepositories/ffl",
        "PATCH /apis/helm.toolkit.fluxcd.io/v2/namespaces/ffl/helmreleases/ffl"]
    notes = kube.state.flux[("helmrepositories", "flux-system", "ffl")]["metadata"]["annotations"]
    assert "reconcile.fluxcd.io/requestedAt" in notes
    assert 'version: "1.5.0"' in ws.gitops.origin_file(HR_PATH) and player.applied == ["0.2.0"]


def test_a_crash_loop_is_rolled_back_by_a_new_commit_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, player = _gate(tmp_path, registry, kube,
                       lambda tag: CRASHLOOP if tag == "0.2.0" else READY)
    before = ws.gitops.origin_file(HR_PATH)
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 1 and bump["outcome"] == "failed", bump
    subjects = _log(ws)
    assert subjects[:2] == ["taskbot(TASK-001): roll back ffl to 0.1.17",
                            "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"]
    assert ws.gitops.origin_file(HR_PATH) == before  # exactly the bumped scalars put back
    bump_sha = git(ws.gitops.origin, "rev-parse", "main~1").strip()
    revert_sha = git(ws.gitops.origin, "rev-parse", "main").strip()
    trailers = git(ws.gitops.origin, "log", "-1", "--format=%(trailers:only)", "main")
    assert f"Taskbot-Revert-Of: {bump_sha}" in trailers and "Task-Id: TASK-001" in trailers
    assert f"Taskbot-Run: {report['run_id']}" in trailers
    assert git(ws.gitops.origin, "rev-list", "--count", "main").strip() == "3"  # no force
    assert bump["reason"].startswith(f"rolled back to 0.1.17 ({revert_sha[:7]}): ")
    assert "pod ffl-backend-0.2.0: CrashLoopBackOff" in bump["reason"]
    assert bump["reason"].endswith("; 0.1.17 is Ready again")
    assert player.applied == ["0.2.0", "0.1.17"] and bump["attempts"] == 1  # no retry
    assert "pod ffl-backend-0.2.0 event: BackOff: Back-off restarting failed container app " \
        "in pod ffl-backend-0.2.0" in bump["evidence"]
    assert f"rollback commit {revert_sha} on main in beckerkube" in bump["evidence"]
    log_line = report["progress_log"][0]
    assert f": rolled back to 0.1.17 ({revert_sha[:7]}): " in log_line
    (remaining,) = report["remaining"]
    assert remaining["reason"].startswith("rolled back to 0.1.17")


def test_a_release_never_ready_is_rolled_back_when_time_runs_out_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = _gate(tmp_path, registry, kube, lambda tag: NEVER if tag == "0.2.0" else READY,
                  timeout="1s")
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 1 and "not rolled out within 1s" in bump["reason"], bump
    assert _log(ws)[0] == "taskbot(TASK-001): roll back ffl to 0.1.17"


def test_helm_giving_up_is_a_failure_seen_at_once_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = _gate(tmp_path, registry, kube,
                  lambda tag: UPGRADE_FAILS if tag == "0.2.0" else READY, timeout="5m")
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 1, bump
    assert "HelmRelease ffl/ffl: Ready=False UpgradeFailed: Helm upgrade failed: context " \
        "deadline exceeded" in bump["reason"]
    assert "not rolled out within" not in bump["reason"]  # seen, not timed out (5 minutes)
    assert _log(ws)[0] == "taskbot(TASK-001): roll back ffl to 0.1.17"


def test_a_persons_edit_of_the_bumped_line_is_never_reverted_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    def person_then_crash(tag: str) -> str:
        if tag == "0.2.0":  # a person fixes the tag by hand while the release crash-loops
            clone = ws.gitops.clone
            git(clone, "pull", "-q", "--ff-only")
            path = clone / HR_PATH
            path.write_text(path.read_text().replace("tag: 0.2.0", "tag: 0.2.1"))
            git(clone, "commit", "-qam", "hotfix: backend 0.2.1")
            git(clone, "push", "-q", "origin", "HEAD:main")
            return CRASHLOOP
        return READY

    ws, _ = _gate(tmp_path, registry, kube, person_then_crash)
    code, report = ws.run(capsys)
    (bump,) = report["criteria"]
    assert code == 1, bump
    assert "not rolled back" in bump["reason"] and "a person's edit is kept" in bump["reason"]
    assert _log(ws)[0] == "hotfix: backend 0.2.1"
    assert "tag: 0.2.1" in ws.gitops.origin_file(HR_PATH)


def test_keep_leaves_a_failed_release_as_it_is_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = _gate(tmp_path, registry, kube, lambda tag: CRASHLOOP if tag == "0.2.0" else READY,
                  extra='[release]\non_failure = "keep"\n')
    code, report = ws.run(capsys)
    assert code == 1 and report["criteria"][0]["reason"].startswith(
        "committed, but the rollout did not finish: ")
    assert _log(ws)[0] == "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"


def test_plan_says_what_the_gate_will_do_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    capsys.readouterr()
    assert main(["--config", str(ws.config), "plan", str(ws.task)]) == 0
    text = capsys.readouterr().out
    assert "then: ask Flux to reconcile: kubectl annotate --overwrite HelmRelease " \
        "reconcile.fluxcd.io/requestedAt=<now>" in text
    assert "then: wait up to 20s: the HelmRelease Ready for its generation" in text
    assert "then: on failure: a new commit puts back exactly the scalars the bump changed" in text
    assert player.applied == [] and not any(r.startswith("PATCH") for r in kube.state.requests)
