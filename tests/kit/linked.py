"""GitOps repositories holding symlinks, as a push can make them: a bare `origin` and a clone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.kit.gitops import GitOps, git

HR = """\
# {app}: people edit this file too
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: {app}, namespace: apps}}
spec:
  values:
    image:
      repository: registry.lan/{app}
      tag: 0.1.17   # keep this comment
"""


def helmrelease(app: str) -> str:
    """A HelmRelease whose `spec.values.image.tag` (0.1.17) the handler bumps for `app`."""
    return HR.format(app=app)


def make_linked_gitops(root: Path, files: Mapping[str, str],
                       links: Mapping[str, str] | None = None) -> GitOps:
    """`files` and symlinks (`links`: path → target, as `ln -s` writes it) committed on
    main of a bare origin, and a clone of it."""
    seed = root / "seed"
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    for rel, target in (links or {}).items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, seed / rel)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "GitOps tree with links")
    origin = root / "origin.git"
    git(root, "clone", "-q", "--bare", str(seed), str(origin))
    clone = root / "beckerkube"
    git(root, "clone", "-q", str(origin), str(clone))
    return GitOps(origin, clone)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file's bytes under `root` (links not followed): to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}
