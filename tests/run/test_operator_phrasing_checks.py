"""Deploy and health checks by name (issue 20's table): each shape → the handler and
parameters `plan` shows, the release's namespace read from the GitOps repository, and the
share of handler-doable criteria mapped (bench/phrasing_share.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from bot import taskfile
from bot.api import Context, Status
from bot.plugin.plugins import load_handlers
from bot.run.actions import resolve
from handlers.verify import HANDLER as VERIFY
from tests.kit.context import actions, make_ctx
from tests.kit.kube import KubeStandIn, pod, workload

pytest_plugins = ["tests.kit.plugin"]

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "phrasing_share.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("phrasing_share", _BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ctx(tmp_path: Path) -> Context:
    ctx: Context = _bench().context(tmp_path)
    return ctx


@pytest.mark.parametrize(("criterion", "params"), [
    ("All 27 HelmReleases show READY=True", {"helmrelease": "all"}),
    ("Verify all HelmReleases reconcile", {"helmrelease": "all"}),
    ("Verify all HelmReleases reconcile: `flux get helmreleases -A`", {"helmrelease": "all"}),
    ("No CrashLoopBackOff or ImagePullBackOff errors in `ffl` namespace", {"pods": "ffl"}),
    ("No ImagePullBackOff or CrashLoopBackOff errors in the flux-system namespace",
     {"pods": "flux-system"}),
    ("`ffl-backend` HelmRelease deploys successfully", {"helmrelease": "ffl-backend"}),
])
def test_table_shape_resolves_to_verify(tmp_path: Path, criterion: str,
                                        params: dict[str, str]) -> None:
    (action,) = actions(_ctx(tmp_path), criterion)
    assert (action.handler, action.source, action.error) == ("verify", "default rule", "")
    assert dict(action.params) == params


@pytest.mark.parametrize(("criterion", "namespace"), [
    ("`ffl-backend` HelmRelease deploys successfully", "apps-ffl"),
    ("triager-api HelmRelease deploys successfully", "triage"),
])
def test_deploys_successfully_checks_the_namespace_its_file_declares(
        tmp_path: Path, criterion: str, namespace: str) -> None:
    (action,) = actions(_ctx(tmp_path), criterion)
    assert action.settings.namespace == namespace  # not the name's first word


def test_a_release_no_file_declares_is_checked_in_the_cluster_namespace(tmp_path: Path) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube", "namespace": "apps"}}, tmp_path)
    (action,) = actions(ctx, "`ffl-backend` HelmRelease deploys successfully")
    assert (action.error, action.settings.namespace) == ("", "apps")


def test_no_crashloop_without_a_namespace_stays_manual(tmp_path: Path) -> None:
    (action,) = actions(_ctx(tmp_path), "No CrashLoopBackOff or ImagePullBackOff errors")
    assert action.manual and not action.error


def test_share_of_handler_doable_criteria_mapped(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    found = bench.resolve_all(bench.context(tmp_path), bench.CASES)
    verdicts = [bench.verdict(c, a) for c, a in zip(bench.CASES, found, strict=True)]
    share = verdicts.count("mapped") / len(verdicts)
    with capsys.disabled():
        print(f"\nphrasing share: {share:.0%} of {len(verdicts)} mapped, "
              f"{verdicts.count('wrong')} wrongly")
    assert verdicts.count("wrong") == 0
    assert share >= 0.85


def _backend(name: str, labels: dict[str, str]) -> dict[str, object]:
    deployment = workload(name, f"reg/{name}:1", labels=labels)
    deployment["spec"]["selector"] = {"matchLabels": labels}
    return deployment


@pytest.mark.integration
def test_workload_pods_stand_in_checks_only_that_workloads_pods(tmp_path: Path,
                                                               kube: KubeStandIn) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube", "kubeconfig": str(kube.kubeconfig),
                                "namespace": "ffl"}}, tmp_path)
    kube.state.workloads[("ffl", "deployments")] = [_backend("ffl-backend", {"app": "ffl-be"})]
    kube.state.pods["ffl"] = [
        pod("ffl-backend-1", "reg/ffl-backend:1", labels={"app": "ffl-be"}),
        pod("ffl-frontend-1", "reg/ffl-frontend:1", waiting="CrashLoopBackOff",
            labels={"app": "ffl-fe"})]
    (action,) = actions(ctx, "`ffl-backend` pods running and healthy")
    assert (action.handler, dict(action.params)) == ("verify", {"workload": "ffl-backend"})
    outcome = VERIFY.run(action.settings, ctx)
    assert outcome.status is Status.DONE, outcome.reason  # the frontend's crash is not its
    assert outcome.evidence[-1] == "1 pods in ffl of ffl-backend (app=ffl-be)"
    kube.state.pods["ffl"][0] = pod("ffl-backend-1", "reg/ffl-backend:1",
                                    waiting="ImagePullBackOff", labels={"app": "ffl-be"})
    outcome = VERIFY.run(action.settings, ctx)
    assert (outcome.status, outcome.reason) == (Status.FAILED, "pod ffl-backend-1: ImagePullBackOff")


@pytest.mark.integration
def test_workload_without_deployment_stand_in_uses_the_name_label(tmp_path: Path,
                                                                  kube: KubeStandIn) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube", "kubeconfig": str(kube.kubeconfig),
                                "namespace": "ffl"}}, tmp_path)
    kube.state.pods["ffl"] = [pod("other-1", "reg/other:1", labels={"app": "other"})]
    outcome = VERIFY.run(VERIFY.settings({"workload": "ffl-backend"}, ctx), ctx)
    assert (outcome.status, outcome.reason) == (
        Status.FAILED, "no pods in namespace ffl with labels app.kubernetes.io/name=ffl-backend")


def test_workload_namespace_is_its_releases_target_namespace(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    hr = tmp_path / "beckerkube" / "apps" / "ffl-backend" / "helmrelease.yaml"
    hr.write_text(hr.read_text() + "  targetNamespace: ffl-apps\n")
    (action,) = actions(ctx, "ffl-backend pods running and healthy")
    assert action.settings.namespace == "ffl-apps"
    (release,) = actions(ctx, "`ffl-backend` HelmRelease deploys successfully")
    assert release.settings.namespace == "apps-ffl"  # the HelmRelease object's own


def test_update_all_helmreleases_takes_the_version_of_the_build_above(tmp_path: Path) -> None:
    _build, _other, update = actions(
        _ctx(tmp_path), "Build all FFL containers with version 0.1.18",
        "Build all triager images with version 2.0.1",
        "Update all `ffl` HelmReleases in beckerkube")
    assert (update.handler, update.error) == ("helmrelease", "")
    assert dict(update.params) == {"app": "ffl", "project": "beckerkube", "version": "0.1.18"}


def test_update_all_helmreleases_takes_the_frontmatter_version(tmp_path: Path) -> None:
    (update,) = actions(_ctx(tmp_path), "Update all triager HelmReleases in beckerkube",
                        frontmatter="version: 2.0.2\n")
    assert (update.error, update.params["version"]) == ("", "2.0.2")


def test_the_groups_own_build_comes_before_the_frontmatter(tmp_path: Path) -> None:
    # issue 20: "the version of the group's build criterion, else the frontmatter's"; a
    # build in another group still comes after the frontmatter (the SPEC's order)
    text = ("---\nversion: 0.1.17\n---\n# T\n## Acceptance Criteria\n### FFL\n"
            "- [ ] Build all FFL containers with version 0.1.18\n"
            "- [ ] Update all `ffl` HelmReleases in beckerkube\n"
            "### Triager\n- [ ] Build all triager images with version 2.0.1\n"
            "### Deploy\n- [ ] Update all triager HelmReleases in beckerkube\n")
    task = taskfile.parse(text.encode(), "TASK-009.md")
    _b1, in_group, _b2, elsewhere = resolve(task, load_handlers(), _ctx(tmp_path))
    assert (in_group.error, in_group.params["version"]) == ("", "0.1.18")
    assert (elsewhere.error, elsewhere.params["version"]) == ("", "0.1.17")


def test_update_all_helmreleases_without_a_version_is_refused(tmp_path: Path) -> None:
    _build, update = actions(_ctx(tmp_path), "Build all triager images with version 2.0.1",
                             "Update all ffl HelmReleases in beckerkube")
    assert update.handler == "helmrelease" and update.settings is None
    assert update.error == (
        "helmrelease: no version for ffl: name one (version=…), build ffl with a version in a "
        "criterion above, or set `version` in the frontmatter")


def test_a_manual_criterion_marked_blocked_has_no_handler_in_plan_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main

    task = tmp_path / "TASK-021.md"
    task.write_text("# T\n## Acceptance Criteria\n"
                    "- [ ] Run the smoke tests - BLOCKED: See TASK-005\n"
                    "- [ ] Releases ready (blocked) <!-- taskbot: verify helmrelease=all -->\n")
    assert main(["plan", str(task), "--json"]) == 1
    first, second = (c["action"] for c in json.loads(capsys.readouterr().out)["criteria"])
    assert (first["handler"], first["state"], first["error"]) == (
        None, "blocked", "marked blocked in the task: BLOCKED: See TASK-005")
    assert (second["handler"], second["state"], second["blocked"]) == (
        "verify", "blocked", "(blocked)")
    assert main(["plan", str(task)]) == 1
    assert "BLOCKED: marked blocked in the task: BLOCKED: See TASK-005" in capsys.readouterr().out


def test_not_executed_names_only_groups_with_nothing_planned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main

    task = tmp_path / "TASK-022.md"
    task.write_text(
        "# T\n## Overview\nWhy we do it.\n## Acceptance Criteria\n### Deploy\n"
        "- [ ] All HelmReleases reconcile successfully\n- [ ] Tell the team\n"
        "### Docs\n- [ ] Write the runbook\n- [ ] Review it\n- [x] Outline it\n"
        "## Testing Checklist\n" + "".join(f"- [ ] check {i}\n" for i in range(12))
        + "- [x] done already\n## Progress Log\n- [ ] not a group\n")
    main(["plan", str(task), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["not_executed"] == [{"group": "Docs", "unchecked": 2},
                                   {"group": "Testing Checklist", "unchecked": 12}]
    main(["plan", str(task)])
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Not executed: Docs (2 unchecked), Testing Checklist (12 unchecked)")


@pytest.mark.parametrize(("folder", "said"), [
    ("backlog", "TASK-030 is in backlog/: it will run once moved to active/"),
    ("completed", "TASK-030 is in completed/: a completed task; taskbot does not run it"),
])
def test_plan_finds_a_task_outside_the_active_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], folder: str, said: str) -> None:
    import json

    from bot.cli import main
    from tests.kit.config import local_config

    config = local_config(tmp_path)
    (tmp_path / "tasks" / "active").mkdir(parents=True)
    (tmp_path / "tasks" / folder).mkdir()
    (tmp_path / "tasks" / folder / "TASK-030.md").write_text(
        "# Later\n## Acceptance Criteria\n- [ ] All HelmReleases reconcile successfully\n")
    assert main(["--config", str(config), "plan", "TASK-030"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == said
    main(["--config", str(config), "plan", "TASK-030", "--json"])
    assert json.loads(capsys.readouterr().out)["task"]["where"] == said.removeprefix("TASK-030 is ")


def test_plan_of_an_active_task_says_nothing_of_where(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main
    from tests.kit.config import local_config

    config = local_config(tmp_path)
    (tmp_path / "tasks" / "active").mkdir(parents=True)
    (tmp_path / "tasks" / "active" / "TASK-031.md").write_text(
        "# Now\n## Acceptance Criteria\n- [ ] Tell the team\n")
    main(["--config", str(config), "plan", "TASK-031", "--json"])
    assert "where" not in json.loads(capsys.readouterr().out)["task"]
    assert main(["--config", str(config), "plan", "TASK-404"]) == 2  # unknown: as before
    assert "TASK-404: no task with this id under" in capsys.readouterr().err


@pytest.mark.parametrize(("pattern", "name", "namespace"), [
    ("infrastructure/controllers/{app}.yaml", "cert-manager", "cert-manager"),
    ("apps/base/{app}/release.yaml", "podinfo", "podinfo"),
])
def test_deploys_successfully_reads_the_namespace_of_a_real_helmrelease(
        tmp_path: Path, pattern: str, name: str, namespace: str) -> None:
    from tests.handlers.test_handler_helmrelease import corpus_root

    clone = corpus_root() / "gitops" / "fluxcd_flux2-kustomize-helm-example"
    if not clone.is_dir():
        pytest.skip(f"no corpus at {clone}")
    ctx = make_ctx({"cluster": {"context": "minikube"},
                    "projects": {"gitops": {"path": str(clone), "helmrelease": pattern}}},
                   tmp_path)
    (action,) = actions(ctx, f"`{name}` HelmRelease deploys successfully")
    # the file's own namespace: "cert-manager" is not the name's first word
    assert (action.error, action.settings.namespace) == ("", namespace)
