"""The registry's TLS certificate renewed for its new address: same key, new SAN.

Only a self-signed certificate whose `.key` lies next to it is renewed, the old one kept
as `.bak`; a linked certificate or key, or one a CA signed, is left to the operator with
a note saying what to ask for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from bot import api
from bot.api import Context
from handlers._address import RegistryIpSettings


class Renewal(NamedTuple):
    """What became of the registry certificate; `renewed` when a new one replaced it."""

    records: tuple[api.CommandRecord, ...] = ()
    notes: tuple[str, ...] = ()
    problem: str = ""
    renewed: bool = False


def _san(text: str) -> list[str]:
    entries = re.findall(r"(IP Address|DNS):\s*([^,\s]+)", text)
    return [f"{'IP' if kind == 'IP Address' else 'DNS'}:{value}" for kind, value in entries]


def _certificate(ctx: Context, s: RegistryIpSettings) -> tuple[Path | None, str]:
    """The certificate to renew (its key lies next to it), else why there is none."""
    if not ctx.config.registry.ca_file:
        return None, "certificate: no registry.ca_file configured: nothing to renew"
    path = Path(ctx.config.registry.ca_file)
    key = path.with_suffix(".key")
    linked = next((p for p in (path, key) if p.is_symlink()), None)
    if linked is not None:  # its target is not taskbot's to replace
        return None, (f"certificate: {linked} is a symlink; taskbot never follows links: renew "
                      f"the certificate where it lives, with SAN IP:{s.new_host}")
    if not path.is_file() or not key.is_file():
        return None, (f"certificate: {path} or its key {key.name} not found: renew it where the "
                      f"registry's key lives, with SAN IP:{s.new_host}")
    return path, ""


def renew_certificate(ctx: Context, s: RegistryIpSettings) -> Renewal:
    """A new self-signed certificate for ca_file with IP:new in its SAN, from the same key."""
    path, why = _certificate(ctx, s)
    if path is None:
        return Renewal(notes=(why,))
    key = path.with_suffix(".key")
    cwd = str(path.parent)
    info = ctx.run(["openssl", "x509", "-in", str(path), "-noout", "-subject", "-issuer",
                    "-ext", "subjectAltName", "-nameopt", "RFC2253"], cwd)
    if not info.ok:
        return Renewal((info,), problem=f"certificate: cannot read {path}: {info.describe()}")
    lines = info.stdout.splitlines()
    subject = next((x.split("=", 1)[1].strip() for x in lines if x.startswith("subject=")), "")
    issuer = next((x.split("=", 1)[1].strip() for x in lines if x.startswith("issuer=")), "")
    if subject != issuer:
        return Renewal((info,), (f"certificate: {path} is signed by {issuer}: ask that CA for "
                                 f"one with SAN IP:{s.new_host}",))
    current = _san(info.stdout)
    if f"IP:{s.new_host}" in current and f"IP:{s.old_host}" not in current:
        return Renewal((info,), (f"certificate {path}: already has SAN IP:{s.new_host}",))
    keep = [e for e in current if e not in (f"IP:{s.old_host}", f"IP:{s.new_host}")]
    san = ",".join([f"IP:{s.new_host}", *keep])
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)  # a leftover, maybe a link openssl's -out would follow
    made = ctx.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-out", str(new),
                    "-days", "825", "-subj", f"/CN={s.new_host}", "-addext",
                    f"subjectAltName={san}"], cwd)
    if not made.ok:
        return Renewal((info, made), problem=f"certificate: {made.describe()}")
    path.replace(path.with_name(path.name + ".bak"))
    new.replace(path)
    return Renewal((info, made), (f"certificate {path}: renewed with SAN {san} (old one kept as "
                                  f"{path.name}.bak)",), renewed=True)
