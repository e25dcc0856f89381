"""Gateway room (oms/api): a development CA and server/client certificates (cryptography, EC P-256).

Touches only the output directory it is given (keys written 0600). For local runs and tests; production
certificates come from the operator's CA. The server certificate covers localhost, 127.0.0.1 and ::1.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from oms.errors import Rejected


@dataclass(frozen=True, slots=True)
class CertPaths:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    def client_cert(self, name: str = "client") -> Path:
        return self.dir / f"{name}.crt"

    def client_key(self, name: str = "client") -> Path:
        return self.dir / f"{name}.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "oms dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate | None,
    ca_key: ec.EllipticCurvePrivateKey,
    days: int,
    *,
    server: bool,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca_cert.subject if ca_cert else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if ca_cert is None:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca_key, hashes.SHA256())


def init(out: Path, *, days: int = 365, force: bool = False, hosts: tuple[str, ...] = ()) -> CertPaths:
    """Create ca.{crt,key}, server.{crt,key} and client.{crt,key} under `out`."""
    paths = CertPaths(Path(out))
    if not 1 <= days <= 3650:
        raise Rejected(f"--days {days} invalid: give 1..3650")
    if paths.ca_key.exists() and not force:
        raise Rejected(f"{paths.ca_key} already exists; pass --force to replace the dev CA and certificates")
    paths.dir.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("oms dev CA", ca_key, None, ca_key, days, server=False, sans=[])
    _write_key(paths.ca_key, ca_key)
    _write_cert(paths.ca_cert, ca)
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    skey = ec.generate_private_key(ec.SECP256R1())
    _write_key(paths.server_key, skey)
    _write_cert(paths.server_cert, _issue("localhost", skey, ca, ca_key, days, server=True, sans=sans))
    client(paths, "client", days=days)
    return paths


def client(paths: CertPaths, name: str, *, days: int = 365) -> tuple[Path, Path]:
    """Issue a client certificate (CN=name) from the dev CA in `paths.dir`."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise Rejected(f"client name {name!r} invalid: letters, digits, '-' and '_' only")
    try:
        ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), None)
    except FileNotFoundError:
        raise Rejected(f"no dev CA in {paths.dir}; run `oms certs init` first") from None
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(paths.client_key(name), key)
    _write_cert(paths.client_cert(name), _issue(name, key, ca, ca_key, days, server=False, sans=[]))
    return paths.client_cert(name), paths.client_key(name)
