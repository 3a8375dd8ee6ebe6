"""registry-ip decides "certificate renewed" from `Renewal.renewed`, not from a note's text;
the certificate is read from openssl's stdout. Real openssl."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.registry_ip import HANDLER as REGISTRY_IP
from handlers.registry_ip import Renewal, renew_certificate
from tests.kit.context import make_ctx
from tests.kit.registry import make_cert, need

pytestmark = pytest.mark.integration

OLD, NEW = "192.168.7.21", "192.168.7.50"


def test_renewed_is_data(tmp_path: Path) -> None:
    need("openssl")
    cert = make_cert(tmp_path, san=f"IP:{OLD},DNS:registry.lan")
    ctx = make_ctx({"registry": {"url": f"{OLD}:5000", "ca_file": str(cert)}}, tmp_path)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)

    first = renew_certificate(ctx, settings)
    assert first.renewed and first.problem == "" and len(first.records) == 2
    assert first.notes == (f"certificate {cert}: renewed with SAN IP:{NEW},DNS:registry.lan "
                           f"(old one kept as {cert.name}.bak)",)
    assert "subject=" in first.records[0].stdout

    again = renew_certificate(ctx, settings)
    assert not again.renewed and again.problem == ""
    assert again.notes == (f"certificate {cert}: already has SAN IP:{NEW}",)


def test_nothing_to_renew_is_not_renewed(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": f"{OLD}:5000"}}, tmp_path)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)
    assert renew_certificate(ctx, settings) == Renewal(
        notes=("certificate: no registry.ca_file configured: nothing to renew",))
