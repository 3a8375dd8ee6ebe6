"""helmrelease: the tag bump on real HelmReleases (the corpus), and the handler end to end.

The corpus test edits a copy of every HelmRelease in ../shared/corpus/gitops that has an
image tag or a chart version, proves with an independent PyYAML comparison that only those
scalars' bytes changed, and builds every kustomize dir listed OK that contains an edited
file with the real `kubectl kustomize`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from bot.yamledit import YamlEditError
from handlers.helmrelease import bump, repository_matches
from tests.kit.gitops import git
from tests.kit.kube import KubeStandIn, helmrelease, pod
from tests.kit.registry import RegistryServer, push_image
from tests.kit.workspace import Workspace, make_workspace

pytest_plugins = ["tests.kit.plugin"]

HR_PATH = "apps/ffl/helmrelease.yaml"

NEW_TAG = "9.9.9-taskbot"
NEW_CHART = "99.0.0"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def corpus_root() -> Path:
    env = os.environ.get("TASKBOT_CORPUS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _gitops() -> Path:
    root = corpus_root() / "gitops"
    if not root.is_dir():
        pytest.skip(f"corpus not found at {root} (set TASKBOT_CORPUS)")
    return root


# --- independent checks (PyYAML only, no taskbot code) ---------------------------------


def _pairs(a: yaml.Node, b: yaml.Node) -> Iterator[tuple[yaml.Node, yaml.Node, tuple[str, ...]]]:
    """Walk two composed trees in parallel; yields (old, new, path) for every node."""
    stack: list[tuple[yaml.Node, yaml.Node, tuple[str, ...]]] = [(a, b, ())]
    seen: set[int] = set()
    while stack:
        x, y, path = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        assert type(x) is type(y), f"shape changed at {path}"
        yield x, y, path
        if isinstance(x, yaml.MappingNode):
            assert len(x.value) == len(y.value), f"keys changed at {path}"
            for (k1, v1), (k2, v2) in zip(x.value, y.value, strict=True):
                key = k1.value if isinstance(k1, yaml.ScalarNode) else "?"
                stack.append((k1, k2, (*path, "<key>")))
                stack.append((v1, v2, (*path, key)))
        elif isinstance(x, yaml.SequenceNode):
            assert len(x.value) == len(y.value), f"items changed at {path}"
            stack.extend((v1, v2, (*path, str(i)))
                         for i, (v1, v2) in enumerate(zip(x.value, y.value, strict=True)))


def assert_only_scalars_changed(old: str, new: str) -> list[tuple[tuple[str, ...], str, str]]:
    """Every changed byte lies inside a changed scalar that is a tag or a chart version."""
    changed: list[tuple[tuple[str, ...], str, str]] = []
    lines_touched: set[int] = set()
    old_lines, new_lines = old.split("\n"), new.split("\n")
    assert len(old_lines) == len(new_lines)
    for a, b in zip(yaml.compose_all(old, Loader=LOADER),
                    yaml.compose_all(new, Loader=LOADER), strict=True):
        for x, y, path in _pairs(a, b):
            if not isinstance(x, yaml.ScalarNode) or x.value == y.value:
                continue
            assert path[-1] in ("tag", "version"), path
            if path[-1] == "version":
                assert path[-4:] == ("spec", "chart", "spec", "version"), path
                assert y.value == NEW_CHART
            else:
                assert "values" in path and y.value == NEW_TAG, path
            line = x.start_mark.line
            assert y.start_mark.line == line and y.start_mark.column == x.start_mark.column
            assert x.end_mark.line == line
            assert old_lines[line][:x.start_mark.column] == new_lines[line][:y.start_mark.column]
            assert old_lines[line][x.end_mark.column:] == new_lines[line][y.end_mark.column:]
            lines_touched.add(line)
            changed.append((path, x.value, y.value))
    differing = {i for i, (p, q) in enumerate(zip(old_lines, new_lines, strict=True)) if p != q}
    assert differing == lines_touched
    return changed


def _targets(text: str) -> tuple[list[str], bool, bool]:
    """(image names to bump, has a tag, has a chart version) for every HelmRelease in text."""
    images: list[str] = []
    has_tag = has_chart = False
    for doc in yaml.compose_all(text, Loader=LOADER):
        if not isinstance(doc, yaml.MappingNode):
            continue
        data = {k.value: v for k, v in doc.value if isinstance(k, yaml.ScalarNode)}
        kind = data.get("kind")
        if not isinstance(kind, yaml.ScalarNode) or kind.value != "HelmRelease":
            continue
        spec = {k.value: v for k, v in getattr(data.get("spec"), "value", [])
                if isinstance(k, yaml.ScalarNode)}
        chart = yaml.safe_load(yaml.serialize(spec["chart"])) if "chart" in spec else None
        if isinstance(chart, dict) and isinstance(chart.get("spec"), dict) and \
                isinstance(chart["spec"].get("version"), str | int | float):
            has_chart = True
        stack = [spec.get("values")]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                m = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
                repo, tag = m.get("repository"), m.get("tag")
                if isinstance(repo, yaml.ScalarNode) and isinstance(tag, yaml.ScalarNode):
                    images.append("/".join(repo.value.split("/")[-2:]))  # suffix match
                    has_tag = True
                stack.extend(v for _, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
    return images, has_tag, has_chart


# --- the corpus ------------------------------------------------------------------------


def _helmrelease_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file() \
                and b"kind: HelmRelease" in path.read_bytes():
            found.append(path)
    return found


@pytest.mark.integration
def test_every_corpus_helmrelease_changes_only_its_scalars_and_still_builds(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl (kubectl kustomize)")
    source = _gitops()
    copy = tmp_path / "gitops"
    shutil.copytree(source, copy, symlinks=True)
    edited: list[Path] = []
    refused: dict[str, str] = {}
    scalars = 0
    for path in _helmrelease_files(copy):
        rel = str(path.relative_to(copy))
        old = path.read_text(encoding="utf-8")
        try:
            images, has_tag, has_chart = _targets(old)
        except yaml.YAMLError:
            images, has_tag, has_chart = [], True, True  # taskbot must refuse it too
        if not (has_tag or has_chart):
            continue
        try:
            result = bump(old, rel, images, NEW_TAG if has_tag else None,
                          NEW_CHART if has_chart else "")
        except YamlEditError as exc:
            refused[rel] = str(exc)
            assert path.read_text(encoding="utf-8") == old
            continue
        path.write_text(result.text, encoding="utf-8")
        changed = assert_only_scalars_changed(old, result.text)
        assert len({p for p, _, _ in changed}) >= 1
        assert len(result.changes) >= len({(p, o) for p, o, _ in changed}) >= 1
        scalars += len(result.changes)
        edited.append(path)
    # Nothing is refused but what PyYAML cannot read and tags shared through anchors.
    for rel, why in refused.items():
        assert "PyYAML cannot read" in why or "shared through an anchor" in why, (rel, why)
    assert "toboshii_home-ops/cluster/apps/monitoring/kube-prometheus-stack/helm-release.yaml" \
        in refused  # duplicate anchors: valid for kustomize, rejected by PyYAML
    assert len(edited) == 143 and scalars == 234, (len(edited), scalars)

    status = (source / "kustomize-build-status.txt").read_text().splitlines()
    ok_dirs = [line.split()[1] for line in status if line.startswith("OK ")]
    to_build = [d for d in ok_dirs if any(copy / d in p.parents for p in edited)]
    assert len(to_build) >= 100

    def build(d: str) -> tuple[str, int, str]:
        done = subprocess.run(["kubectl", "kustomize", str(copy / d)], capture_output=True,
                              text=True, timeout=60, check=False)
        return d, done.returncode, done.stderr[-500:]

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        failures = [(d, err) for d, code, err in pool.map(build, to_build) if code != 0]
    assert failures == []


def test_corpus_traps() -> None:
    root = _gitops()
    echo = root / "onedr0p_home-ops/kubernetes/apps/default/echo-server/app/helmrelease.yaml"
    text = echo.read_text()
    # The bare integer tag 35 stays plain when the new tag is a string or an integer ...
    assert "tag: 36\n" in bump(text, "echo", ["mendhak/http-https-echo"], "36").text
    plain = bump(text, "echo", ["mendhak/http-https-echo"], "0.1.18")
    assert "tag: 0.1.18\n" in plain.text and not plain.changes[0].quoted
    # ... and is quoted when plain text would read as another type (a float here).
    quoted = bump(text, "echo", ["mendhak/http-https-echo"], "1.10")
    assert 'tag: "1.10"\n' in quoted.text and quoted.changes[0].quoted

    qbt = root / "onedr0p_home-ops/kubernetes/apps/default/qbittorrent/tools/helmrelease.yaml"
    text = qbt.read_text()
    result = bump(text, "qbt", ["buroa/qbtools"], "v1.0.0")
    assert len(result.changes) == 1  # one tag, shared by every `<<: *container` merge
    assert "          tag: &container\n" in result.text  # the container named `tag:` stays
    assert "tag: v1.0.0\n" in result.text

    unifi = root / "billimek_k8s-gitops/default/unifi/unifi.yaml"
    text = unifi.read_text()
    result = bump(text, "unifi", [], "v7.2.0", NEW_CHART)
    assert [c.new for c in result.changes] == [NEW_CHART, "v7.2.0"]
    assert text.count("renovate") == result.text.count("renovate")
    assert_only_scalars_changed(text, result.text.replace(NEW_CHART, NEW_CHART)
                                .replace("v7.2.0", NEW_TAG))

    dup = root / "toboshii_home-ops/cluster/apps/monitoring/kube-prometheus-stack/helm-release.yaml"
    with pytest.raises(YamlEditError, match=r"PyYAML cannot read this file: .*duplicate anchor"):
        bump(dup.read_text(), "kps", [], "1.0")


HR = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: app}
spec:
  chart:
    spec: {chart: app, version: 1.0.0}
  values:
    image:
      tag: &t 0.1.17
    sidecar:
      image: {repository: ghcr.io/x/side, tag: *t}
"""


def test_refuses_shared_tags_and_missing_fields() -> None:
    with pytest.raises(YamlEditError, match=r"shared through an anchor \(anchor &t"):
        bump(HR, "hr.yaml", ["x/side"], "0.1.18")
    with pytest.raises(YamlEditError, match="no HelmRelease document"):
        bump("kind: Deployment\n", "d.yaml", [], "1")
    with pytest.raises(YamlEditError, match="no image tag to set"):
        bump(HR.replace("tag: &t 0.1.17", "pullPolicy: Always").replace(", tag: *t", ""),
             "hr.yaml", ["ffl/backend"], "0.1.18")
    with pytest.raises(YamlEditError, match=r"no spec\.chart\.spec\.version"):
        bump(HR.replace("version: 1.0.0", "ref: x"), "hr.yaml", [], None, "2.0.0")
    with pytest.raises(YamlEditError, match="PyYAML cannot read"):
        bump("kind: HelmRelease\nspec: [\n", "bad.yaml", [], "1")


def test_digest_pinned_tag_gets_the_registry_digest() -> None:
    text = HR.replace("&t 0.1.17", "0.1.17@sha256:" + "0" * 64).replace(", tag: *t", ", tag: x")
    digest = "sha256:" + "f" * 64
    result = bump(text, "hr.yaml", [], "0.1.18", digests={"ffl/backend": digest})
    assert f"tag: 0.1.18@{digest}\n" in result.text
    assert bump(text, "hr.yaml", [], "0.1.18").text.count("tag: 0.1.18\n") == 1


def test_repository_matching_is_by_path_suffix() -> None:
    assert repository_matches("192.168.7.21:5000/ffl/backend", ["ffl/backend"])
    assert repository_matches("ffl/backend", ["ffl/backend"])
    assert not repository_matches("ghcr.io/x/notffl/backend2", ["ffl/backend"])
    assert not repository_matches("ghcr.io/xffl/backend", ["ffl/backend"])


# --- the handler: registry, git worktree, validation, cluster (stand-in) -----------------

BUMP = "- [ ] Update ffl HelmRelease in beckerkube to version @VERSION@"


def _workspace(tmp_path: Path, registry: RegistryServer, version: str | None) -> Workspace:
    ws = make_workspace(tmp_path, registry, build_project=False)
    if version:
        for name in ("ffl/backend", "ffl/frontend"):
            push_image(registry, tmp_path, name, version)
    return ws


def _cluster(ws: Workspace, kube: KubeStandIn, timeout: str = "5s", context: str = "minikube") -> None:
    ws.add_config(f'\n[cluster]\ncontext = "{context}"\nkubeconfig = "{kube.kubeconfig}"\n'
                  f'namespace = "ffl"\nrollout_timeout = "{timeout}"\n')


def _pods(ws: Workspace, kube: KubeStandIn, version: str) -> None:
    labels = {"app.kubernetes.io/instance": "ffl"}
    kube.state.pods["ffl"] = [pod(f"ffl-{n}-0", f"{ws.registry.host}/ffl/{n}:{version}",
                                  labels=labels) for n in ("backend", "frontend")]
    kube.state.helmreleases[("ffl", "ffl")] = helmrelease("ffl", "ffl")


@pytest.mark.integration
def test_bump_waits_for_the_rollout_on_stand_in(tmp_path: Path, registry: RegistryServer,
                                                kube: KubeStandIn,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, registry, "0.4.0")
    _cluster(ws, kube)
    _pods(ws, kube, "0.4.0")
    ws.write_task("0.4.0", [BUMP])
    code, report = ws.run(capsys)
    (bump_,) = report["criteria"]
    assert code == 0 and bump_["outcome"] == "done", bump_
    assert "HelmRelease ffl/ffl: Ready=True UpgradeSucceeded: Helm upgrade succeeded" \
        in bump_["evidence"]
    assert f"pod ffl-backend-0: Running, Ready, {registry.host}/ffl/backend:0.4.0" in bump_["evidence"]
    assert ["kubectl", "--kubeconfig", str(kube.kubeconfig), "config", "current-context"] \
        == bump_["commands"][0]["argv"]
    assert any("labelSelector=app.kubernetes.io%2Finstance%3Dffl" in r for r in kube.state.requests)
    assert "tag: 0.4.0   # keep this comment" in ws.gitops.origin_file(HR_PATH)


@pytest.mark.integration
def test_unfinished_rollout_fails_after_one_commit_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, registry, "0.5.0")
    _cluster(ws, kube, timeout="1s")
    ws.add_config('[release]\non_failure = "keep"\n')  # the rollback: tests/test_release_gate.py
    _pods(ws, kube, "0.1.17")  # Flux has not rolled the new version out
    before = ws.gitops.origin_head()
    ws.write_task("0.5.0", [BUMP])
    code, report = ws.run(capsys)
    (bump_,) = report["criteria"]
    assert code == 1 and bump_["outcome"] == "failed" and bump_["attempts"] == 2
    assert bump_["reason"].startswith("committed, but the rollout did not finish: pod ffl-backend-0 "
                                      f"still runs {registry.host}/ffl/backend:0.1.17")
    # the retry found the file already bumped: one commit only
    assert git(ws.gitops.origin, "rev-list", "--count", f"{before}..main").strip() == "1"
    assert f"{HR_PATH} already sets 0.5.0: nothing to commit" in bump_["evidence"]


@pytest.mark.integration
def test_wrong_context_blocks_before_any_change_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, registry, None)
    _cluster(ws, kube, context="production")
    before = ws.gitops.origin_head()
    ws.write_task("0.1.18", [BUMP])
    code, report = ws.run(capsys)
    assert code == 1 and report["criteria"][0]["outcome"] == "blocked"
    assert report["criteria"][0]["reason"] == (
        "kubectl's current context is 'minikube', but [cluster] context is 'production'")
    assert ws.gitops.origin_head() == before


@pytest.mark.integration
def test_missing_image_blocks_and_no_origin_keeps_the_branch(
        tmp_path: Path, registry: RegistryServer, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, registry, "0.6.0")
    ws.write_task("9.0.0", [BUMP])
    code, report = ws.run(capsys)
    assert report["criteria"][0]["outcome"] == "blocked"
    assert report["criteria"][0]["reason"] == (f"image missing from registry {registry.host}: "
                                               "ffl/backend:9.0.0, ffl/frontend:9.0.0")

    git(ws.gitops.clone, "remote", "remove", "origin")
    head = git(ws.gitops.clone, "rev-parse", "HEAD")
    ws.write_task("0.6.0", [BUMP])
    code, report = ws.run(capsys)
    (bump_,) = report["criteria"]
    assert code == 0 and bump_["outcome"] == "done"
    assert bump_["reason"] == ("no origin: branch taskbot/TASK-001 kept for a person to merge; "
                               "the cluster is not updated until it is merged")
    assert git(ws.gitops.clone, "rev-parse", "HEAD") == head  # the checkout did not move
    assert git(ws.gitops.clone, "status", "--porcelain") == ""
    bumped = git(ws.gitops.clone, "show", f"taskbot/TASK-001:{HR_PATH}")
    assert "tag: 0.6.0   # keep this comment" in bumped and 'tag: "0.6.0"' in bumped


@pytest.mark.integration
def test_log_says_what_was_bumped_and_a_done_bump_commits_nothing(
        tmp_path: Path, registry: RegistryServer, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _workspace(tmp_path, registry, "0.6.0")
    ws.write_task("0.6.0", [BUMP])
    code, report = ws.run(capsys)
    assert code == 0, report
    assert report["progress_log"][0].endswith(
        "(ffl image tag 0.1.17 → 0.6.0 in apps/ffl/helmrelease.yaml; "
        "kustomize clusters/minikube ok; sec_lint ok)")
    origin = git(ws.gitops.origin, "rev-parse", "main")
    ws.write_task("0.6.0", [BUMP])  # the bump is already there (a person, or this run)
    code, report = ws.run(capsys)
    assert code == 0 and report["criteria"][0]["outcome"] == "done"
    assert report["progress_log"][0].endswith(
        "(ffl already at 0.6.0 in apps/ffl/helmrelease.yaml: nothing to commit)")
    assert git(ws.gitops.origin, "rev-parse", "main") == origin
