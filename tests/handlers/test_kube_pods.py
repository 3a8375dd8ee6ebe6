"""handlers._kube reads every pod from kubectl's stdout (not a 20-line tail), while the
evidence still names at most EVIDENCE_PODS pods: every one with a problem first."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers._kube import EVIDENCE_PODS, check_pods
from tests.kit.context import make_ctx
from tests.kit.kube import KubeStandIn, pod

pytest_plugins = ["tests.kit.plugin"]
pytestmark = pytest.mark.integration


def test_every_pod_is_seen_and_problems_are_always_listed(tmp_path: Path,
                                                          kube: KubeStandIn) -> None:
    ctx = make_ctx({"cluster": {"context": "minikube", "kubeconfig": str(kube.kubeconfig),
                                "namespace": "ffl"}}, tmp_path)
    pods = [pod(f"web-{i}", "reg/ffl/web:1") for i in range(40)]
    pods += [pod(f"api-{i}", "reg/ffl/api:2", ready=False, waiting="ImagePullBackOff")
             for i in range(25)]
    kube.state.pods["ffl"] = pods
    record, problems, evidence, seen = check_pods(ctx, "ffl")
    assert record.ok and len(seen) == 65
    assert {p.name for p in seen if p.ok} == {f"web-{i}" for i in range(40)}
    assert len(problems) == 25
    assert len(evidence) == 25 + 1 > EVIDENCE_PODS
    assert evidence[-1] == "65 pods in ffl (40 Ready pods not listed)"
