"""No handler follows a symlink in a repository or project directory (issue 17, finding 3).

Real git: the GitOps repo is a clone of a bare origin, the links are committed in it as
a push would bring them. Each case proves the criterion is refused with the link named,
that the file outside (or the link's target inside) keeps its bytes, and that origin got
no commit. And the truth: an edit git finds nothing to commit for is a failure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.api import Context, Outcome, Status
from handlers.helmrelease import HANDLER as HELMRELEASE
from handlers.kustomize import HANDLER as KUSTOMIZE
from handlers.registry_ip import HANDLER as REGISTRY_IP
from handlers.registry_ip import renew_certificate
from tests.kit.context import make_ctx
from tests.kit.gitops import git
from tests.kit.linked import helmrelease, make_linked_gitops, snapshot
from tests.kit.registry import make_cert, need

pytestmark = pytest.mark.integration

REFUSED = "is a symlink; taskbot never follows links in a repository"
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"


def _ctx(tmp_path: Path, clone: Path, **project: object) -> Context:
    (tmp_path / "tasks").mkdir(exist_ok=True)
    return make_ctx({
        "repo": {"path": str(tmp_path / "tasks"), "state_dir": str(tmp_path / "state")},
        "projects": {"beckerkube": {"path": str(clone), "helmrelease": "apps/{app}/helmrelease.yaml",
                                    **project}},
    }, tmp_path)


def _bump(ctx: Context, app: str) -> Outcome:
    return HELMRELEASE.run(HELMRELEASE.settings({"app": app, "version": "0.1.18"}, ctx), ctx)


def _worktree_file(tmp_path: Path, rel: str) -> Path:
    (found,) = (tmp_path / "state" / "worktrees").glob(f"*/@*/{rel}")
    return found


def test_helmrelease_linked_outside_the_repository_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "helmrelease.yaml"
    outside.parent.mkdir()
    outside.write_text(helmrelease("ffl"))
    before = outside.read_bytes()
    gitops = make_linked_gitops(tmp_path / "gitops", {"README.md": "GitOps\n"},
                                {"apps/ffl/helmrelease.yaml": str(outside)})
    head = gitops.origin_head()

    outcome = _bump(_ctx(tmp_path, gitops.clone), "ffl")

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == ("beckerkube: apps/ffl/helmrelease.yaml: apps/ffl/helmrelease.yaml "
                              f"{REFUSED}")
    assert outside.read_bytes() == before
    assert gitops.origin_head() == head
    assert outcome.changes == () and not outcome.summary


def test_helmrelease_linked_inside_the_repository_is_refused(tmp_path: Path) -> None:
    gitops = make_linked_gitops(tmp_path / "gitops", {"clusters/prod/web.yaml": helmrelease("web")},
                                {"apps/web/helmrelease.yaml": "../../clusters/prod/web.yaml"})
    head = gitops.origin_head()

    outcome = _bump(_ctx(tmp_path, gitops.clone), "web")

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"beckerkube: apps/web/helmrelease.yaml: apps/web/helmrelease.yaml {REFUSED}"
    assert _worktree_file(tmp_path, "clusters/prod/web.yaml").read_text() == helmrelease("web")
    assert (gitops.clone / "clusters/prod/web.yaml").read_text() == helmrelease("web")
    assert gitops.origin_head() == head


def test_helmrelease_under_a_linked_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "ffl").mkdir(parents=True)
    (elsewhere / "ffl" / "helmrelease.yaml").write_text(helmrelease("ffl"))
    before = snapshot(elsewhere)
    gitops = make_linked_gitops(tmp_path / "gitops", {"README.md": "GitOps\n"},
                                {"apps": str(elsewhere)})
    head = gitops.origin_head()

    outcome = _bump(_ctx(tmp_path, gitops.clone), "ffl")

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"beckerkube: apps/ffl/helmrelease.yaml: apps {REFUSED}"
    assert snapshot(elsewhere) == before
    assert gitops.origin_head() == head


def test_helmrelease_with_a_linked_kustomize_dir_is_refused_before_the_edit(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "kustomization.yaml").write_text(KUSTOMIZATION)
    gitops = make_linked_gitops(tmp_path / "gitops", {"apps/ffl/helmrelease.yaml": helmrelease("ffl")},
                                {"clusters/minikube": str(elsewhere)})
    head = gitops.origin_head()

    outcome = _bump(_ctx(tmp_path, gitops.clone, kustomize=["clusters/minikube"]), "ffl")

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"beckerkube: clusters/minikube: clusters/minikube {REFUSED}"
    assert outcome.commands == ()  # kustomize never ran
    assert _worktree_file(tmp_path, "apps/ffl/helmrelease.yaml").read_text() == helmrelease("ffl")
    assert gitops.origin_head() == head


def test_kustomize_refuses_a_dir_under_a_link(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "minikube").mkdir(parents=True)
    (elsewhere / "minikube" / "kustomization.yaml").write_text(KUSTOMIZATION)
    gitops = make_linked_gitops(tmp_path / "gitops", {"README.md": "GitOps\n"},
                                {"clusters": str(elsewhere)})
    ctx = _ctx(tmp_path, gitops.clone, kustomize=["clusters/minikube"])

    outcome = KUSTOMIZE.run(KUSTOMIZE.settings({"project": "beckerkube"}, ctx), ctx)

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"beckerkube: clusters/minikube: clusters {REFUSED}"
    assert outcome.commands == ()


def test_an_edit_git_does_not_commit_has_failed_and_pushes_nothing(tmp_path: Path) -> None:
    # A clean filter that undoes the bump: the file changes, the commit would not.
    gitops = make_linked_gitops(tmp_path / "gitops", {
        "apps/ffl/helmrelease.yaml": helmrelease("ffl"),
        ".gitattributes": "apps/ffl/helmrelease.yaml filter=pin\n"})
    git(gitops.clone, "config", "filter.pin.clean", "sed s/0.1.18/0.1.17/")
    git(gitops.clone, "config", "filter.pin.smudge", "cat")
    head = gitops.origin_head()

    outcome = _bump(_ctx(tmp_path, gitops.clone), "ffl")

    assert outcome.status is Status.FAILED, outcome
    assert outcome.reason == ("beckerkube: apps/ffl/helmrelease.yaml: edited (image tag 0.1.17 → "
                              "0.1.18), but git found nothing to commit: nothing pushed")
    assert outcome.changes == () and not outcome.summary
    assert gitops.origin_head() == head


# --- registry-ip ------------------------------------------------------------------------

OLD, NEW = "192.168.7.21", "192.168.7.50"
ARCH = "# Architecture\n\n- Registry: `192.168.7.21:5000`\n"
ENV = "REGISTRY_URL=192.168.7.21:5000\n"
SERVICE = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: registry\n  annotations:\n"
           "    metallb.universe.tf/loadBalancerIPs: 192.168.7.21\n")


def _registry_ctx(tmp_path: Path, tasks: Path, gitops: Path | None = None) -> Context:
    ffl = tmp_path / "ffl"
    ffl.mkdir()
    (ffl / ".env.build.local").write_text(ENV)
    projects: dict[str, object] = {"ffl": {"path": str(ffl)}}
    if gitops is not None:
        projects["beckerkube"] = {"path": str(gitops), "kustomize": ["infra/registry"]}
    return make_ctx({"repo": {"path": str(tasks), "state_dir": str(tmp_path / "state")},
                     "registry": {"url": f"{OLD}:5000"}, "projects": projects}, tmp_path)


def test_registry_ip_refuses_docs_behind_a_link_and_changes_nothing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "architecture.md").write_text(ARCH)
    tasks = make_linked_gitops(tmp_path / "tasks", {"tasks/active/.keep": ""},
                               {"docs": str(elsewhere)})
    head = tasks.origin_head()
    ctx = _registry_ctx(tmp_path, tasks.clone)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)
    why = f"tasks: docs/architecture.md: docs {REFUSED}"

    assert f"REFUSED: {why}" in REGISTRY_IP.plan(settings, ctx).files
    outcome = REGISTRY_IP.run(settings, ctx)

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"nothing changed: {why}"
    assert (elsewhere / "architecture.md").read_text() == ARCH
    assert (tmp_path / "ffl" / ".env.build.local").read_text() == ENV  # nothing half moved
    assert tasks.origin_head() == head


def test_registry_ip_refuses_a_linked_project_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside.env"
    outside.write_text(ENV)
    tasks = make_linked_gitops(tmp_path / "tasks", {"docs/architecture.md": ARCH})
    ctx = _registry_ctx(tmp_path, tasks.clone)
    (tmp_path / "ffl" / ".env.build.local").unlink()
    (tmp_path / "ffl" / ".env.build.local").symlink_to(outside)

    outcome = REGISTRY_IP.run(REGISTRY_IP.settings({"ip": NEW}, ctx), ctx)

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"nothing changed: ffl: .env.build.local: .env.build.local {REFUSED}"
    assert outside.read_text() == ENV
    assert git(tasks.origin, "show", "main:docs/architecture.md") == ARCH


def test_registry_ip_refuses_a_linked_infra_folder_in_the_gitops_repo(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "registry").mkdir(parents=True)
    (elsewhere / "registry" / "service.yaml").write_text(SERVICE)
    (elsewhere / "registry" / "kustomization.yaml").write_text("resources: [service.yaml]\n")
    before = snapshot(elsewhere)
    gitops = make_linked_gitops(tmp_path / "gitops", {"README.md": "GitOps\n"},
                                {"infra": str(elsewhere)})
    tasks = make_linked_gitops(tmp_path / "tasks", {"docs/architecture.md": ARCH})
    head = gitops.origin_head()
    ctx = _registry_ctx(tmp_path, tasks.clone, gitops.clone)

    outcome = REGISTRY_IP.run(REGISTRY_IP.settings({"ip": NEW}, ctx), ctx)

    assert outcome.status is Status.BLOCKED, outcome
    assert outcome.reason == f"nothing changed: beckerkube: infra/registry: infra {REFUSED}"
    assert snapshot(elsewhere) == before
    assert gitops.origin_head() == head


def test_registry_certificate_links_are_neither_followed_nor_replaced(tmp_path: Path) -> None:
    need("openssl")
    real = make_cert(tmp_path, san=f"IP:{OLD}")
    planted = tmp_path / "planted"
    planted.write_text("not a certificate\n")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "domain.key").write_bytes(real.with_suffix(".key").read_bytes())
    (certs / "domain.crt").write_bytes(real.read_bytes())
    (certs / "domain.crt.new").symlink_to(planted)  # a leftover openssl's -out would follow
    ctx = make_ctx({"registry": {"url": f"{OLD}:5000", "ca_file": str(certs / "domain.crt")}},
                   tmp_path)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)

    assert renew_certificate(ctx, settings).renewed
    assert planted.read_text() == "not a certificate\n"

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "domain.crt").symlink_to(real)
    (linked / "domain.key").symlink_to(real.with_suffix(".key"))
    ctx = make_ctx({"registry": {"url": f"{OLD}:5000", "ca_file": str(linked / "domain.crt")}},
                   tmp_path)
    before = real.read_bytes()
    renewal = renew_certificate(ctx, settings)
    assert not renewal.renewed and renewal.notes == (
        f"certificate: {linked / 'domain.crt'} is a symlink; taskbot never follows links: renew "
        f"the certificate where it lives, with SAN IP:{NEW}",)
    assert real.read_bytes() == before and (linked / "domain.crt").is_symlink()
