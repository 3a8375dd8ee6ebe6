"""A real `docker-registry` with TLS and htpasswd auth on a free port, and image helpers.

The session-wide `registry` fixture lives in `tests.kit.plugin`: a test module says
`pytest_plugins = ["tests.kit.plugin"]` and takes a `registry` argument. Tests using it
are `@pytest.mark.integration`: without the binaries they are skipped with the reason
(and CI turns that skip into a failure).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.commands import demo_registry
from bot.commands.sandbox import git

__all__ = ["PASSWORD", "USER", "RegistryServer", "free_port", "make_build_project", "make_cert",
           "need", "push_image", "start_registry"]

free_port = demo_registry.free_port  # the tests import it from here

USER = "ci"
PASSWORD = "s3cret-registry-pw"


@dataclass(frozen=True)
class RegistryServer:
    host: str  # 127.0.0.1:PORT
    root: Path
    ca_file: Path  # the self-signed certificate (it is its own CA)
    cert_dir: Path  # a directory holding only ca.crt, for skopeo/buildah --cert-dir
    username: str
    password: str
    password_file: Path

    @property
    def url(self) -> str:
        return f"https://{self.host}"


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH (see ../shared/design/TESTING.md)")


def make_cert(root: Path, name: str = "domain", san: str = "IP:127.0.0.1,DNS:localhost") -> Path:
    return demo_registry.self_signed_cert(root, name, san)


def start_registry(root: Path) -> tuple[RegistryServer, subprocess.Popen[bytes]]:
    """The demo's registry recipe with the tests' fixed credentials, deletes allowed."""
    found, proc = demo_registry.start(root, username=USER, password=PASSWORD, delete=True)
    return RegistryServer(found.host, root, found.ca_file, found.cert_dir, USER, PASSWORD,
                          found.password_file), proc


BUILD_SH = r"""#!/bin/sh
# Builds one small OCI image per component and pushes it: REGISTRY_URL and VERSION come
# from taskbot; the credentials from the project's env (REGISTRY_USER, REGISTRY_PASSWORD_FILE).
set -eu
: "${REGISTRY_URL:?REGISTRY_URL is not set}" "${VERSION:?VERSION is not set}"
[ "${1:-}" = "--push" ] || { echo "usage: $0 --push all" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in $COMPONENTS; do
  umoci init --layout "$work/$name"
  umoci new --image "$work/$name:$VERSION"
  printf '%s %s\n' "$name" "$VERSION" > "$work/$name.txt"
  umoci insert --image "$work/$name:$VERSION" "$work/$name.txt" /app/version.txt
  skopeo copy --quiet --dest-creds "$REGISTRY_USER:$(cat "$REGISTRY_PASSWORD_FILE")" \
    --dest-cert-dir "$REGISTRY_CERT_DIR" "oci:$work/$name:$VERSION" \
    "docker://$REGISTRY_URL/ffl/$name:$VERSION"
  echo "pushed ffl/$name:$VERSION"
done
"""


def make_build_project(path: Path, registry: RegistryServer,
                       components: str = "backend frontend") -> Path:
    """A git repo with scripts/build.sh (umoci + skopeo), a Containerfile, .env.build.local."""
    need("umoci", "skopeo", "git")
    (path / "scripts").mkdir(parents=True)
    script = path / "scripts" / "build.sh"
    script.write_text(BUILD_SH.replace("$COMPONENTS", components))
    script.chmod(0o755)
    (path / "Containerfile").write_text("FROM scratch\nCOPY version.txt /app/version.txt\n")
    (path / ".env.build.local").write_text(f"# local build settings\nREGISTRY_URL={registry.host}\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "ffl")
    return path


def push_image(registry: RegistryServer, work: Path, name: str, tag: str) -> None:
    """Push a tiny image `name:tag` with umoci + skopeo (like the build script does)."""
    need("umoci", "skopeo")
    layout = work / f"oci-{name.replace('/', '_')}-{tag}"
    subprocess.run(["umoci", "init", "--layout", str(layout)], check=True, capture_output=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:{tag}"], check=True, capture_output=True)
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-creds",
                    f"{registry.username}:{registry.password}", "--dest-cert-dir",
                    str(registry.cert_dir), f"oci:{layout}:{tag}",
                    f"docker://{registry.host}/{name}:{tag}"], check=True, capture_output=True)
