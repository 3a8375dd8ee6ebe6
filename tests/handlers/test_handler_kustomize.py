"""kustomize: validation only, with the real `kubectl kustomize` and the project's sec_lint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.api import Status
from bot.errors import ParamError
from handlers.kustomize import HANDLER as KUSTOMIZE
from tests.kit.context import make_ctx
from tests.kit.gitops import git, make_gitops

pytestmark = pytest.mark.integration


def test_validates_and_reports_the_kustomize_error(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl")
    gitops = make_gitops(tmp_path, "reg.lan:5000")
    ctx = make_ctx({"projects": {"kube": {"path": str(gitops.clone),
                                          "kustomize": ["clusters/minikube"],
                                          "sec_lint": ["./scripts/sec-lint.sh"]}}}, tmp_path)
    settings = KUSTOMIZE.settings({"project": "kube"}, ctx)
    outcome = KUSTOMIZE.run(settings, ctx)
    assert outcome.status is Status.DONE
    assert [c.argv for c in outcome.commands] == [("kubectl", "kustomize", "clusters/minikube"),
                                                  ("./scripts/sec-lint.sh",)]
    assert "kind: HelmRelease" in outcome.commands[0].output_tail or outcome.commands[0].ok

    (gitops.clone / "apps/ffl/namespace.yaml").unlink()
    outcome = KUSTOMIZE.run(settings, ctx)
    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("kubectl kustomize clusters/minikube exited 1: ")
    assert "namespace.yaml" in outcome.reason

    git(gitops.clone, "checkout", "--", "apps/ffl/namespace.yaml")
    (gitops.clone / "apps/ffl/secret.yaml").write_text("password: hunter2\n")
    outcome = KUSTOMIZE.run(KUSTOMIZE.settings({"project": "kube", "dir": "apps/ffl"}, ctx), ctx)
    assert outcome.status is Status.FAILED
    assert outcome.reason == "./scripts/sec-lint.sh exited 1: sec-lint: plain-text password"
    assert [c.ok for c in outcome.commands] == [True, False]

    for params, why in [({"project": "kube", "dir": "../etc"}, "relative path inside"),
                        ({"project": "kube", "dir": "/etc"}, "relative path inside")]:
        with pytest.raises(ParamError, match=why):
            KUSTOMIZE.settings(params, ctx)
