"""`reconcile` on the Kubernetes stand-in: the requestedAt annotation on the Kustomization
(and its GitRepository with `--with-source`), then Ready for that very request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.api import Context, Status
from handlers.reconcile import HANDLER as RECONCILE
from tests.kit.context import actions, make_ctx
from tests.kit.kube import KubeStandIn, kustomization

pytest_plugins = ["tests.kit.plugin"]
pytestmark = pytest.mark.integration

_ANNOTATION = "reconcile.fluxcd.io/requestedAt"


def _ctx(tmp_path: Path, kube: KubeStandIn, timeout: str = "20s") -> Context:
    return make_ctx({"cluster": {"context": "minikube", "kubeconfig": str(kube.kubeconfig),
                                 "rollout_timeout": timeout}}, tmp_path)


def _play_flux(kube: KubeStandIn, *, ready: bool = True) -> None:
    """A requested reconcile of a Kustomization is handled: Ready (or not) for it."""
    def handle(plural: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        if plural != "kustomizations":
            return
        stamp = patch["metadata"]["annotations"][_ANNOTATION]
        fresh = kustomization(name, namespace, ready=ready, handled=stamp)
        with kube.state.lock:
            kube.state.flux[(plural, namespace, name)]["status"] = fresh["status"]
    kube.state.on_flux_patch = handle


def _patches(kube: KubeStandIn) -> list[str]:
    return [r for r in kube.state.requests if r.startswith("PATCH")]


def test_reconcile_stand_in_requests_and_waits_for_ready(tmp_path: Path,
                                                         kube: KubeStandIn) -> None:
    kube.state.flux[("kustomizations", "flux-system", "apps")] = kustomization("apps")
    _play_flux(kube)
    ctx = _ctx(tmp_path, kube)
    (action,) = actions(ctx, "Trigger Flux reconciliation: `flux reconcile kustomization apps`")
    assert (action.handler, dict(action.params)) == ("reconcile", {"kustomization": "apps"})
    outcome = RECONCILE.run(action.settings, ctx)
    assert outcome.status is Status.DONE, outcome.reason
    assert outcome.evidence == ("Kustomization flux-system/apps: Ready=True "
                                "ReconciliationSucceeded: Applied revision: main@sha1:0123",)
    assert [p.split("?")[0] for p in _patches(kube)] == [
        "PATCH /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps"]


def test_reconcile_stand_in_with_source_asks_the_source_first(tmp_path: Path,
                                                              kube: KubeStandIn) -> None:
    kube.state.flux[("kustomizations", "flux-system", "flux-system")] = kustomization(
        "flux-system")
    # the controller's free text, a tab and a line break in it, moves no field after it
    kube.state.flux[("kustomizations", "flux-system", "flux-system")]["status"]["conditions"][0][
        "message"] = "Applied\trevision:\nmain@sha1:0123"
    kube.state.flux[("gitrepositories", "flux-system", "flux-system")] = {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"}}
    _play_flux(kube)
    ctx = _ctx(tmp_path, kube)
    (action,) = actions(ctx, "Reconcile Flux to pick up the change: "
                             "`flux reconcile kustomization flux-system --with-source`")
    assert action.settings.with_source
    # plan --json shows the parameter as an annotation would write it, not the flag
    assert dict(action.params) == {"kustomization": "flux-system", "with_source": "true"}
    outcome = RECONCILE.run(action.settings, ctx)
    assert outcome.status is Status.DONE, outcome.reason
    assert [p.split("?")[0].rsplit("/", 2)[-2] for p in _patches(kube)] == [
        "gitrepositories", "kustomizations"]


def test_reconcile_stand_in_fails_when_flux_says_not_ready(tmp_path: Path,
                                                           kube: KubeStandIn) -> None:
    kube.state.flux[("kustomizations", "flux-system", "apps")] = kustomization("apps")
    _play_flux(kube, ready=False)
    ctx = _ctx(tmp_path, kube)
    outcome = RECONCILE.run(RECONCILE.settings({"kustomization": "apps"}, ctx), ctx)
    assert (outcome.status, outcome.reason) == (
        Status.FAILED, "Kustomization flux-system/apps: Ready=False BuildFailed: "
                       "kustomize build failed")


def test_reconcile_stand_in_unhandled_request_times_out(tmp_path: Path,
                                                        kube: KubeStandIn) -> None:
    # Ready, but for an older request: not what was asked
    kube.state.flux[("kustomizations", "flux-system", "apps")] = kustomization(
        "apps", handled="2026-01-01T00:00:00Z")
    ctx = _ctx(tmp_path, kube, timeout="1s")
    outcome = RECONCILE.run(RECONCILE.settings({"kustomization": "apps"}, ctx), ctx)
    assert outcome.status is Status.FAILED
    assert outcome.reason.endswith("(this request not handled yet; last handled: "
                                   "2026-01-01T00:00:00Z); not reconciled within 1s")


def test_reconcile_stand_in_missing_kustomization_fails(tmp_path: Path,
                                                        kube: KubeStandIn) -> None:
    ctx = _ctx(tmp_path, kube)
    outcome = RECONCILE.run(RECONCILE.settings({"kustomization": "nope"}, ctx), ctx)
    assert outcome.status is Status.FAILED
    assert "nope" in outcome.reason


def test_reconcile_plan_never_runs_the_flux_command_as_written(tmp_path: Path) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube"}}, tmp_path)
    (action,) = actions(ctx, "Trigger Flux reconciliation: "
                             "`flux reconcile kustomization apps -n infra`")
    assert dict(action.params) == {"kustomization": "apps", "namespace": "infra"}
    step = RECONCILE.plan(action.settings, ctx)
    assert step.commands[0][:4] == ("kubectl", "--context", "minikube", "annotate")
    assert "kustomizations.kustomize.toolkit.fluxcd.io/apps" in step.commands[0]
