"""Criteria as the operator writes them (issue 10): more default rules, `verify
helmrelease=all`, the build's version checked by "Verify images in registry", and a
criterion whose own text says it is blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.api import Context, Status
from bot.plugin.plugins import load_handlers
from bot.run.runner import State, executed
from handlers.verify import HANDLER as VERIFY
from tests.kit.context import actions, make_ctx, registry_section
from tests.kit.kube import KubeStandIn, helmrelease
from tests.kit.registry import RegistryServer, push_image

pytest_plugins = ["tests.kit.plugin"]

# A private address from the real tasks: these tests only resolve criteria (plan), they
# never connect to it.
REAL_REGISTRY = "192.168.7.21:5000"


def _ctx(tmp_path: Path, registry: str = REAL_REGISTRY, **extra: object) -> Context:
    return make_ctx({
        "registry": {"url": registry},
        "projects": {
            "ffl": {"path": str(tmp_path), "images": ["ffl/backend", "ffl/frontend"],
                    "build": ["./scripts/build.sh"]},
            "triager": {"path": str(tmp_path), "images": ["triager/api"],
                        "build": ["./build.sh"]},
        },
        **extra,
    }, tmp_path)


@pytest.mark.parametrize(("criterion", "params"), [
    # the namespace comes from the release's GitOps file, never from the name's first word
    ("midwestmtg-backend HelmRelease shows READY=True", {"helmrelease": "midwestmtg-backend"}),
    ("HelmRelease ffl is Ready", {"helmrelease": "ffl"}),
    # the pods of that workload (issue 20), not every pod of a namespace guessed from its name
    ("midwestmtg-backend pods running and healthy", {"workload": "midwestmtg-backend"}),
    ("All pods Running in namespace ffl", {"pods": "ffl"}),
    ("All HelmReleases reconcile successfully: `flux get helmreleases -A`",
     {"helmrelease": "all"}),
])
def test_cluster_phrasing_resolves_to_verify(tmp_path: Path, criterion: str,
                                             params: dict[str, str]) -> None:
    (action,) = actions(_ctx(tmp_path), criterion)
    assert (action.handler, action.source, action.error) == ("verify", "default rule", "")
    assert dict(action.params) == params


def test_flux_command_in_backticks_is_never_run(tmp_path: Path) -> None:
    (action,) = actions(_ctx(tmp_path),
                        "All HelmReleases reconcile successfully: `flux get helmreleases -A`")
    step = VERIFY.plan(action.settings, _ctx(tmp_path))
    assert all(argv[0] == "kubectl" for argv in step.commands)
    assert "--all-namespaces" in step.commands[0]


@pytest.mark.parametrize("criterion", [
    "Successfully push all triager images to registry (192.168.7.21:5000)",
    "Push all triager images to registry (192.168.7.21:5000)",
    "Successfully push all triager images to registry 192.168.7.21:5000",
])
def test_successfully_push_with_parentheses_is_image(tmp_path: Path, criterion: str) -> None:
    _build, push = actions(_ctx(tmp_path), "Build all triager containers with version 2.0.1",
                          criterion)
    assert (push.handler, push.error) == ("image", "")
    assert dict(push.params) == {"project": "triager", "registry": REAL_REGISTRY,
                                 "version": "2.0.1"}


def test_verify_images_takes_the_version_of_the_build_above(tmp_path: Path) -> None:
    _build, verify, other = actions(
        _ctx(tmp_path), "Build all FFL containers with version 0.1.18",
        f"Verify images in registry: `curl -k https://{REAL_REGISTRY}/v2/ffl/backend/tags/list`",
        f"Verify images in registry: `curl -k https://{REAL_REGISTRY}/v2/other/app/tags/list`")
    assert verify.params["version"] == "0.1.18" and verify.settings.version == "0.1.18"
    assert "version" not in other.params  # no project lists other/app: nothing to inherit


@pytest.mark.integration
def test_verify_images_fails_when_only_the_old_version_is_there(
        tmp_path: Path, registry: RegistryServer) -> None:
    push_image(registry, tmp_path, "phr/backend", "0.1.17")
    ctx = make_ctx({"registry": registry_section(registry),
                    "projects": {"ffl": {"path": str(tmp_path), "images": ["phr/backend"],
                                         "build": ["./b.sh"]}}}, tmp_path)
    _, verify = actions(ctx, "Build all FFL containers with version 0.1.18",
                        f"Verify images in registry: `curl -k https://{registry.host}"
                        "/v2/phr/backend/tags/list`")
    outcome = VERIFY.run(verify.settings, ctx)
    assert (outcome.status, outcome.reason) == (Status.FAILED,
                                                "phr/backend: 0.1.18 not in tags [0.1.17]")
    push_image(registry, tmp_path, "phr/backend", "0.1.18")
    outcome = VERIFY.run(verify.settings, ctx)
    assert outcome.status is Status.DONE
    assert outcome.summary == "registry has phr/backend:0.1.18 (tags: 0.1.17, 0.1.18)"


@pytest.mark.parametrize(("criterion", "mark"), [
    ("Successfully push all triager images to registry (192.168.7.21:5000) - BLOCKED: See "
     "TASK-005", "BLOCKED: See TASK-005"),
    ("Run the smoke tests (blocked)", "(blocked)"),
    ("Build all FFL containers with version 0.1.18 - blocked: see TASK-005 "
     "<!-- taskbot: build project=ffl version=0.1.18 -->", "blocked: see TASK-005"),
])
def test_a_criterion_marked_blocked_is_not_run(tmp_path: Path, criterion: str,
                                               mark: str) -> None:
    ctx = _ctx(tmp_path)
    (action,) = actions(ctx, criterion)
    assert action.criterion.annotation is None or action.handler == "build"
    assert action.error == f"marked blocked in the task: {mark}"
    (result,) = executed((action,), load_handlers(), ctx).results
    assert result.state is State.BLOCKED
    assert result.reason == f"marked blocked in the task: {mark}"
    assert not (tmp_path / "pwned").exists()


def test_blocked_as_a_plain_word_is_not_a_mark(tmp_path: Path) -> None:
    (action,) = actions(_ctx(tmp_path), "Ensure no pods are blocked by the network policy")
    assert action.manual and not action.error


@pytest.mark.integration
def test_every_helmrelease_ready_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube", "kubeconfig": str(kube.kubeconfig)}},
                   tmp_path)
    kube.state.helmreleases[("ffl", "ffl")] = helmrelease("ffl", "ffl")
    kube.state.helmreleases[("flux-system", "triager")] = helmrelease("triager", "flux-system")
    settings = VERIFY.settings({"helmrelease": "all"}, ctx)
    outcome = VERIFY.run(settings, ctx)
    assert outcome.status is Status.DONE, outcome.reason
    assert outcome.evidence == (
        "HelmRelease ffl/ffl: Ready=True UpgradeSucceeded: Helm upgrade succeeded",
        "HelmRelease flux-system/triager: Ready=True UpgradeSucceeded: Helm upgrade succeeded",
        "2 HelmReleases, 2 Ready")
    kube.state.helmreleases[("flux-system", "triager")] = helmrelease(
        "triager", "flux-system", ready=False, message="install retries exhausted")
    outcome = VERIFY.run(settings, ctx)
    assert outcome.status is Status.FAILED
    assert outcome.reason == ("HelmRelease flux-system/triager: Ready=False UpgradeFailed: "
                              "install retries exhausted")
    kube.state.helmreleases.clear()
    outcome = VERIFY.run(settings, ctx)
    assert (outcome.status, outcome.reason) == (Status.FAILED, "no HelmRelease in any namespace")
