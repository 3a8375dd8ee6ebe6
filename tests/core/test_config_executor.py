"""`[executor]` and a project's `executor` (issue 23): where build criteria run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Executor, load
from bot.errors import ConfigError


def test_local_by_default(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, "[projects.a]\npath = 'a'\n"))
    assert cfg.executor == Executor()
    assert cfg.executor_kind(cfg.projects["a"]) == "local"


def test_kubernetes_globally_and_a_project_kept_local(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, """\
[cluster]
context = "minikube"

[executor]
kind = "kubernetes"
namespace = "builds"
image = "quay.io/buildah/stable:v1.38"
registry_secret = "regcred"
service_account = "builder"

[projects.a]
path = "a"

[projects.b]
path = "b"
executor = "local"
"""))
    assert cfg.executor == Executor("kubernetes", "builds", "quay.io/buildah/stable:v1.38",
                                    Executor().clone_image, "regcred", "builder")
    assert cfg.executor_kind(cfg.projects["a"]) == "kubernetes"
    assert cfg.executor_kind(cfg.projects["b"]) == "local"


def test_one_project_on_the_cluster(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, "[cluster]\n[projects.a]\npath = 'a'\nexecutor = 'kubernetes'\n"))
    assert cfg.executor.kind == "local"
    assert cfg.executor_kind(cfg.projects["a"]) == "kubernetes"


@pytest.mark.parametrize(("text", "problem"), [
    ("[executor]\nkind = 'k8s'\n", "executor.kind: must be 'local' or 'kubernetes', not 'k8s'"),
    ("[executor]\nkind = 'kubernetes'\n",
     "executor.kind: kubernetes needs a [cluster] section (its kubeconfig and context)"),
    ("[projects.a]\npath = 'a'\nexecutor = 'kubernetes'\n",
     "projects.a.executor: kubernetes needs a [cluster] section (its kubeconfig and context)"),
    ("[projects.a]\npath = 'a'\nexecutor = 'docker'\n",
     "projects.a.executor: must be '' or 'local' or 'kubernetes', not 'docker'"),
    ("[cluster]\n[executor]\nregistry_secret = 'Reg_Cred'\n",
     "executor.registry_secret: 'Reg_Cred' is not a Kubernetes name (lowercase letters, digits, "
     "'-' and '.')"),
    ("[executor]\nimage = ''\n", "executor.image: must not be empty"),
    ("[executor]\nnodes = 3\n", "unknown key 'executor.nodes'"),
])
def test_errors_name_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: {problem}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taskbot.toml"
    path.write_text(text)
    return path
