"""How many handler-doable criteria in the operator's shapes `plan` maps, and how many wrongly.

    .venv/bin/python bench/phrasing_share.py [--list]

The criteria are made up in the shapes of issue 20's table and of the phrasings the tests
hold (tests/run/test_operator_phrasing*.py); each names the handler and the parameters a
right mapping has. A criterion resolved to another handler, or to other values of those
parameters, is a wrong mapping; one left manual or refused is unmapped. Resolving reads a
made-up GitOps clone (the HelmReleases' namespaces) in a temporary directory; nothing
connects anywhere. Issue 20's goal: at least 85 % mapped, none wrongly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import config as configmod
from bot import taskfile
from bot.api import Context
from bot.plugin.plugins import load_handlers
from bot.proc import Redactor
from bot.run.actions import Action, resolve

REGISTRY = "192.168.7.21:5000"  # a private address: only written into criteria, never reached


class Case(NamedTuple):
    text: str
    handler: str
    params: Mapping[str, str]
    settings: Mapping[str, str] = {}  # fields of the handler's settings the mapping must have


def _case(text: str, handler: str, **params: str) -> Case:
    return Case(text, handler, params)


def _in(namespace: str, case: Case) -> Case:
    return case._replace(settings={"namespace": namespace})


_TAGS = f"`curl -k https://{REGISTRY}/v2/ffl/backend/tags/list`"
CASES: tuple[Case, ...] = (
    _case("Build all FFL containers with version 0.1.18", "build", project="FFL", version="0.1.18"),
    _case("Build all triager images with version 2.0.1", "build", project="triager"),
    _case("Build all midwestmtg containers with version 1.4.0", "build", project="midwestmtg"),
    _case(f"Push all ffl images to registry {REGISTRY}", "image", project="ffl"),
    _case(f"Successfully push all triager images to registry ({REGISTRY})", "image",
          project="triager"),
    _case(f"Push all FFL images to registry ({REGISTRY})", "image", project="FFL"),
    _case(f"Push all midwestmtg images to the registry {REGISTRY}", "image", project="midwestmtg"),
    _case(f"Verify images in registry: {_TAGS}", "verify", image="ffl/backend"),
    _case(f"Verify images in registry: `curl -k https://{REGISTRY}/v2/triager/api/tags/list`",
          "verify", image="triager/api"),
    _case(f"Verify all images are in registry catalog: `curl -k https://{REGISTRY}/v2/_catalog`",
          "verify", catalog="all"),
    _case("Update ffl-backend HelmRelease in beckerkube to 0.1.18", "helmrelease",
          app="ffl-backend", version="0.1.18"),
    _case("Update triager-api HelmRelease in beckerkube to version 2.0.1", "helmrelease",
          app="triager-api"),
    _case("Update midwestmtg-backend HelmRelease in beckerkube to 1.4.0", "helmrelease",
          app="midwestmtg-backend"),
    _case("Update all `ffl` HelmReleases in beckerkube", "helmrelease", app="ffl",
          project="beckerkube", version="0.1.18"),  # the version of ffl's build above
    _case("Update all triager HelmReleases in beckerkube", "helmrelease", app="triager",
          project="beckerkube", version="2.0.1"),
    _case("midwestmtg-backend HelmRelease shows READY=True", "verify",
          helmrelease="midwestmtg-backend"),
    _case("HelmRelease ffl is Ready", "verify", helmrelease="ffl"),
    _case("HelmRelease triager is ready", "verify", helmrelease="triager"),
    _in("apps-ffl", _case("`ffl-backend` HelmRelease deploys successfully", "verify",
                          helmrelease="ffl-backend")),
    _in("triage", _case("triager-api HelmRelease deploys successfully", "verify",
                        helmrelease="triager-api")),
    _in("mtg", _case("`midwestmtg-frontend` HelmRelease deploys successfully", "verify",
                     helmrelease="midwestmtg-frontend")),
    _case("All HelmReleases reconcile successfully", "verify", helmrelease="all"),
    _case("All HelmReleases reconcile successfully: `flux get helmreleases -A`", "verify",
          helmrelease="all"),
    _case("All 27 HelmReleases show READY=True", "verify", helmrelease="all"),
    _case("Verify all HelmReleases reconcile", "verify", helmrelease="all"),
    _case("Verify all HelmReleases reconcile: `flux get helmreleases -A`", "verify",
          helmrelease="all"),
    _case("All HelmReleases are ready", "verify", helmrelease="all"),
    _case("No CrashLoopBackOff or ImagePullBackOff errors in `ffl` namespace", "verify",
          pods="ffl"),
    _case("No CrashLoopBackOff or ImagePullBackOff errors in midwestmtg namespace", "verify",
          pods="midwestmtg"),
    _case("No ImagePullBackOff or CrashLoopBackOff errors in the `triager` namespace", "verify",
          pods="triager"),
    _case("No CrashLoopBackOff or ImagePullBackOff errors in `flux-system` namespace", "verify",
          pods="flux-system"),
    _case("All pods Running in namespace ffl", "verify", pods="ffl"),
    _case("All pods running in the namespace triager", "verify", pods="triager"),
    _in("apps-ffl", _case("`ffl-backend` pods running and healthy", "verify",
                          workload="ffl-backend")),
    _in("midwestmtg", _case("midwestmtg-backend pods running and healthy", "verify",
                            workload="midwestmtg-backend")),
    _case("Trigger Flux reconciliation: `flux reconcile kustomization apps`", "reconcile",
          kustomization="apps"),
    _case("Reconcile Flux: `flux reconcile kustomization flux-system --with-source`",
          "reconcile", kustomization="flux-system", with_source="true"),
    _case("Update registry IP to 192.168.7.22", "registry-ip", ip="192.168.7.22"),
    _case("Move the registry address to 192.168.7.22", "registry-ip", ip="192.168.7.22"),
    _case("Change registry IP to 192.168.7.23.", "registry-ip", ip="192.168.7.23"),
)

# namespaces the GitOps clone declares: none is the first word of the release's name
RELEASES = {"ffl-backend": "apps-ffl", "triager-api": "triage", "midwestmtg-frontend": "mtg",
            "ffl": "ffl", "triager": "triager", "midwestmtg-backend": "midwestmtg"}


def gitops_clone(root: Path) -> Path:
    """A made-up GitOps clone: apps/NAME/helmrelease.yaml for every release of RELEASES."""
    for name, namespace in RELEASES.items():
        folder = root / "apps" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "helmrelease.yaml").write_text(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
            f"  name: {name}\n  namespace: {namespace}\nspec:\n  values:\n"
            f"    image:\n      repository: {REGISTRY}/{name}\n      tag: 0.0.1\n")
    return root


def context(root: Path) -> Context:
    clone = gitops_clone(root / "beckerkube")
    projects = {
        "ffl": {"path": str(root), "images": ["ffl/backend", "ffl/frontend"],
                "build": ["./scripts/build.sh"]},
        "triager": {"path": str(root), "images": ["triager/api"], "build": ["./build.sh"]},
        "midwestmtg": {"path": str(root), "images": ["midwestmtg/backend"],
                       "build": ["./build.sh"]},
        "beckerkube": {"path": str(clone), "helmrelease": "apps/{app}/helmrelease.yaml"},
    }
    data = {"registry": {"url": REGISTRY}, "projects": projects,
            "cluster": {"context": "minikube"}}
    config = configmod.parse(data, str(root / "taskbot.toml"))
    return Context(config, "TASK-020", "run-bench", Redactor(config.secrets()))


def resolve_all(ctx: Context, cases: Sequence[Case]) -> tuple[Action, ...]:
    """The criteria as one task's list, in order: a push takes the version of the build above
    it, as in the operator's files."""
    text = "# T\n## Acceptance Criteria\n" + "".join(f"- [ ] {c.text}\n" for c in cases)
    return resolve(taskfile.parse(text.encode(), "TASK-020.md"), load_handlers(), ctx)


def verdict(case: Case, action: Action) -> str:
    """"mapped", "unmapped" (manual, or refused with a reason) or "wrong"."""
    if action.handler is None or action.manual:
        return "unmapped"
    if action.handler != case.handler or any(
            action.params.get(k) != v for k, v in case.params.items()):
        return "wrong"
    if action.settings is not None and any(
            getattr(action.settings, k, v) != v for k, v in case.settings.items()):
        return "wrong"
    return "unmapped" if action.error else "mapped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every criterion's verdict")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(Path(tmp))
        found = resolve_all(ctx, CASES)
        verdicts = [verdict(c, a) for c, a in zip(CASES, found, strict=True)]
        if args.list:
            for case, action, said in zip(CASES, found, verdicts, strict=True):
                shown = f"{action.handler} {dict(action.params)}" + (
                    f" ({action.error})" if action.error else "")
                print(f"{said:8} {case.text[:70]:70} → {shown}")
    mapped = verdicts.count("mapped")
    print(f"{len(CASES)} handler-doable criteria: {mapped} mapped "
          f"({100 * mapped / len(CASES):.0f} %), {verdicts.count('wrong')} wrongly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
