"""Flux, played by the Kubernetes stand-in: a reconcile request applies the GitOps repo.

When `reconcile.fluxcd.io/requestedAt` changes on a HelmRelease (or the test calls
`sync()`), the player reads the GitOps repository's branch, finds the HelmRelease in the
file, applies it (generation + 1) and lets the release do what the test scripted for the
tag it names: become Ready, crash-loop, or never get ready. As a real rolling update
does, the old pod stays Ready while a new one crash-loops: replica counts alone pass a
broken release; the HelmRelease's Ready condition for its generation and each new pod's
waiting reason tell the truth.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.kit.kube import KubeState, event, helmrelease, helmrepository, pod, workload

READY, CRASHLOOP, NEVER, PULL_FAILS = "ready", "crashloop", "never", "pull-fails"
UPGRADE_FAILS = "upgrade-fails"  # Helm gave up: Ready=False for the new generation
Script = Callable[[str], str]  # tag → what the release does


@dataclass
class FluxPlayer:
    state: KubeState
    gitops: Path  # the bare GitOps repository
    file: str  # the HelmRelease file in it
    images: tuple[str, ...]  # the app's image repositories: each a component (pod, Deployment)
    script: Script
    branch: str = "main"
    namespace: str = "ffl"
    name: str = "ffl"
    applied: list[str] = field(default_factory=list)  # the first image's tag, each reconcile
    changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> None:
        """The cluster before the run: the release Ready on what the branch names now."""
        tags = self._tags_on_branch()
        with self.state.lock:
            self._set(READY, generation=1)
            self._settle(tags, tags, READY)
            self.state.flux[("helmrepositories", "flux-system", self.name)] = helmrepository(
                self.name, "flux-system")
        self.state.on_patch = self._patched

    def _patched(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        notes = (patch.get("metadata") or {}).get("annotations") or {}
        if "reconcile.fluxcd.io/requestedAt" in notes:
            self.sync()

    def sync(self) -> None:
        """Flux's reconcile: the branch's HelmRelease applied as it is now."""
        tags = self._tags_on_branch()
        first = tags[self.images[0]]
        behaviour = self.script(first)
        with self.state.lock:
            hr = self.state.helmreleases[(self.namespace, self.name)]
            before = self._running
            if tags != before:  # nothing changed on the branch: the release stays as it is
                self._set(behaviour, int(hr["metadata"]["generation"]) + 1)
                self._settle(before, tags, behaviour)
        with self.changed:
            self.applied.append(first)
            self.changed.notify_all()

    def wait_applied(self, count: int, timeout: float = 30) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.applied) >= count, timeout)
            return list(self.applied)

    def _tags_on_branch(self) -> dict[str, str]:
        text = subprocess.run(["git", "show", f"{self.branch}:{self.file}"], cwd=self.gitops,
                              check=True, capture_output=True, text=True).stdout
        found: dict[str, str] = {}

        def walk(node: object) -> None:
            if isinstance(node, dict):
                if node.get("repository") in self.images and "tag" in node:
                    found[str(node["repository"])] = str(node["tag"])
                for value in node.values():
                    walk(value)

        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "HelmRelease":
                walk(doc.get("spec", {}).get("values"))
        return found

    def _set(self, behaviour: str, generation: int) -> None:
        ready = behaviour == READY
        hr = helmrelease(self.name, self.namespace, ready=ready, generation=generation,
                         observed=generation if ready else generation - 1)
        if behaviour == UPGRADE_FAILS:
            hr = helmrelease(self.name, self.namespace, ready=False, generation=generation,
                             observed=generation, message="Helm upgrade failed: context "
                             "deadline exceeded")
        elif not ready:
            hr["status"]["conditions"][0].update(status="Unknown", reason="Progressing",
                                                 message="Reconciliation in progress")
        self.state.helmreleases[(self.namespace, self.name)] = hr

    def _settle(self, old: dict[str, str], new: dict[str, str], behaviour: str) -> None:
        """Pods and Deployments as a rolling update from `old` to `new` leaves them."""
        labels = {"app.kubernetes.io/instance": self.name}
        pods, deploys, events = [], [], []
        for repo in self.images:
            part = repo.rsplit("/", 1)[-1]
            image = f"{repo}:{new[repo]}"
            deploys.append(workload(f"{self.name}-{part}", image, labels=labels))
            if behaviour == READY or old[repo] == new[repo]:
                pods.append(pod(f"{self.name}-{part}-{new[repo]}", image, labels=labels))
                continue
            waiting = {CRASHLOOP: "CrashLoopBackOff", PULL_FAILS: "ImagePullBackOff",
                       NEVER: "ContainerCreating", UPGRADE_FAILS: "ContainerCreating"}[behaviour]
            new_pod = f"{self.name}-{part}-{new[repo]}"
            # the old pod still serves: the Deployment's counts look fine
            pods += [pod(f"{self.name}-{part}-{old[repo]}", f"{repo}:{old[repo]}", labels=labels),
                     pod(new_pod, image, ready=False, waiting=waiting, labels=labels,
                         phase="Running" if behaviour in (CRASHLOOP, PULL_FAILS) else "Pending")]
            if behaviour in (CRASHLOOP, PULL_FAILS):
                events.append(event(new_pod, "BackOff", "Back-off restarting failed container "
                                    f"app in pod {new_pod}"))
        self.state.pods[self.namespace] = pods
        self.state.workloads[(self.namespace, "deployments")] = deploys
        self.state.events[self.namespace] = events
        self._running = new

    _running: dict[str, str] = field(default_factory=dict)
