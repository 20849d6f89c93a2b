"""A throw-away PKI for TLS tests: CAs, server and client certificates, made with ``cryptography``.

Nothing is committed: every test session writes fresh files under its tmp path.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    name: str
    cert: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path, password: bytes | None = None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )


def make_ca(folder: Path, name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert = folder / f"{name}.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(name, cert, key, certificate)


def issue(
    ca: Authority,
    folder: Path,
    name: str,
    *,
    server: bool,
    valid_days: float = 30,
    starts_in_days: float = 0,
    password: bytes | None = None,
) -> Issued:
    """A leaf certificate for 127.0.0.1/localhost (server) or a named client."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() + dt.timedelta(days=starts_in_days) - dt.timedelta(minutes=5)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    certificate = builder.sign(ca.key, hashes.SHA256())
    cert = folder / f"{name}.crt"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path = folder / f"{name}.key"
    _write_key(key, key_path, password)
    return Issued(cert, key_path)


@dataclass(frozen=True)
class Pki:
    """One CA with a server and a client certificate, and a stranger CA with its own client."""

    folder: Path
    ca: Authority
    server: Issued
    client: Issued
    other_ca: Authority
    stranger: Issued

    def client_context(self, client: Issued | None = None) -> ssl.SSLContext:
        """A client that trusts the test CA and, if given, presents ``client``."""
        context = ssl.create_default_context(cafile=str(self.ca.cert))
        if client is not None:
            context.load_cert_chain(str(client.cert), str(client.key))
        return context


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca(folder, "test-ca")
    other = make_ca(folder, "other-ca")
    return Pki(
        folder=folder,
        ca=ca,
        server=issue(ca, folder, "server", server=True),
        client=issue(ca, folder, "alice", server=False),
        other_ca=other,
        stranger=issue(other, folder, "mallory", server=False),
    )
