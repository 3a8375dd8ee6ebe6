"""`taskbot doctor` on `[identity] signing_key`: the key signs; `[trust] allowed_signers`
verifies it as the identity's e-mail, or doctor says which line to add; a missing key file
is a one-line configuration error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import config as configmod
from bot.cli import main
from bot.errors import ConfigError
from tests.kit.git import Sandbox, sandbox

pytestmark = pytest.mark.integration

EMAIL = "taskbot@build-host"


def _keygen(path: Path, passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name,
                    "-f", str(path)], check=True)
    return path


def _box(tmp_path: Path, key: Path, **trust: str) -> Sandbox:
    box = sandbox(tmp_path, trust_extra=trust)
    text = box.config.read_text()
    line = f'email = "{EMAIL}"\n'
    box.config.write_text(text.replace(line, f'{line}signing_key = "{key}"\n'))
    return box


def _signing(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    main(["--config", str(box.config), "doctor"])
    return [line for line in capsys.readouterr().out.splitlines() if " signing: " in line]


def test_the_key_signs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _keygen(tmp_path / "taskbot-key")
    assert _signing(_box(tmp_path, key), capsys) == [f"ok   signing: {key} signs taskbot's commits"]


def test_allowed_signers_verifies_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _keygen(tmp_path / "taskbot-key")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{EMAIL} {key.with_suffix('.pub').read_text()}")
    assert _signing(_box(tmp_path, key, allowed_signers=str(signers)), capsys) == [
        f"ok   signing: {key} signs taskbot's commits; trust.allowed_signers verifies them "
        f"as {EMAIL}"]


def test_a_mismatched_allowed_signers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _keygen(tmp_path / "taskbot-key")
    other = _keygen(tmp_path / "other-key")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{EMAIL} {other.with_suffix('.pub').read_text()}")
    box = _box(tmp_path, key, allowed_signers=str(signers))
    [line] = _signing(box, capsys)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    assert line.startswith(f"FAIL signing: {box.config}: identity.signing_key = {key} signs, but "
                           f"trust.allowed_signers = {signers} does not verify it as {EMAIL} (")
    assert line.endswith(f'add the line `{EMAIL} namespaces="git" {public}` there')


def test_a_key_with_a_passphrase_does_not_sign(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    key = _keygen(tmp_path / "taskbot-key", passphrase="secret words")
    box = _box(tmp_path, key)
    [line] = _signing(box, capsys)
    assert line.startswith(f"FAIL signing: {box.config}: identity.signing_key = {key}: does not "
                           "sign (")
    assert line.endswith("use a private key without a passphrase, readable only by taskbot's "
                         "user (mode 0600)")
    assert "secret words" not in line


def test_a_key_others_may_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _keygen(tmp_path / "taskbot-key")
    key.chmod(0o644)
    box = _box(tmp_path, key)
    assert _signing(box, capsys) == [
        f"FAIL signing: {box.config}: identity.signing_key = {key}: others may read it "
        f"(mode 0644), so ssh-keygen refuses it: chmod 600 {key}"]


def test_a_missing_key_file_is_a_config_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "no-such-key"
    box = _box(tmp_path, key)
    with pytest.raises(ConfigError) as raised:
        configmod.load(box.config)
    assert str(raised.value) == f"{box.config}: identity.signing_key: {key}: no such file"
    capsys.readouterr()
    assert main(["--config", str(box.config), "doctor"]) == 1
    assert capsys.readouterr().out.splitlines() == [f"FAIL config: {raised.value}"]
    key.mkdir()
    with pytest.raises(ConfigError, match=r"identity\.signing_key: .*: not a file$"):
        configmod.load(box.config)
