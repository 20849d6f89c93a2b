"""HTTPS for ``shipyard serve``: checking the files, and the one server ``SSLContext``.

``check_tls_files`` runs in the CLI before uvicorn starts, so a wrong file is a
one-line error instead of a traceback in every worker. ``server_context`` is
what each worker serves with (uvicorn calls ``context_factory``): TLS 1.2 at
least, and with a client CA every client must present a certificate that CA
signed - anyone else fails the handshake before a byte of HTTP is read.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from shipyard.errors import InvalidInput

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
EXPIRY_WARNING = dt.timedelta(days=14)


class TlsFileError(InvalidInput):
    """A certificate, key or CA file cannot be used; the message names the option and file."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class TlsCheck:
    """What the checks found that is worth telling the operator (not an error)."""

    not_after: dt.datetime
    warnings: tuple[str, ...]


def _read(option: str, path: Path) -> bytes:
    if not path.exists():
        raise TlsFileError(f"{option} {str(path)!r} does not exist")
    if not path.is_file():
        raise TlsFileError(f"{option} {str(path)!r} is not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsFileError(f"{option} {str(path)!r} cannot be read: {exc.strerror}") from exc


def _certificates(option: str, path: Path) -> list[x509.Certificate]:
    data = _read(option, path)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsFileError(f"{option} {str(path)!r} holds no PEM certificate") from exc
    return certificates


def _private_key(path: Path) -> PrivateKeyTypes:
    data = _read("--tls-key", path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # the key is encrypted
        raise TlsFileError(
            f"--tls-key {str(path)!r} is encrypted; give an unencrypted key "
            "(readable only by the serving user)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsFileError(f"--tls-key {str(path)!r} holds no PEM private key") from exc


def _public_bytes(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def check_tls_files(files: TlsFiles, *, now: dt.datetime | None = None) -> TlsCheck:
    """Refuse files the server could not serve with; warn about a certificate near expiry."""
    certificate = _certificates("--tls-cert", files.cert)[0]
    key = _private_key(files.key)
    if _public_bytes(certificate.public_key()) != _public_bytes(key.public_key()):
        raise TlsFileError(
            f"--tls-key {str(files.key)!r} does not match the certificate in "
            f"--tls-cert {str(files.cert)!r}"
        )
    now = now or dt.datetime.now(dt.UTC)
    not_after = certificate.not_valid_after_utc
    if now > not_after:
        raise TlsFileError(
            f"--tls-cert {str(files.cert)!r} expired on {not_after:%Y-%m-%d %H:%M} UTC"
        )
    if now < certificate.not_valid_before_utc:
        raise TlsFileError(
            f"--tls-cert {str(files.cert)!r} is not valid before "
            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    warnings = []
    if not_after - now < EXPIRY_WARNING:
        warnings.append(f"the certificate expires on {not_after:%Y-%m-%d %H:%M} UTC")
    if files.client_ca is not None:
        _certificates("--tls-client-ca", files.client_ca)
    server_context(files)  # whatever OpenSSL still refuses, refuse it here
    return TlsCheck(not_after=not_after, warnings=tuple(warnings))


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The context every serving process uses: TLS >= 1.2, client certificates if asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    try:
        # A password callback that gives nothing: OpenSSL must never prompt on a terminal.
        context.load_cert_chain(str(files.cert), str(files.key), password=lambda: b"")
        if files.client_ca is not None:
            context.load_verify_locations(cafile=str(files.client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
    except (ssl.SSLError, OSError) as exc:
        raise TlsFileError(f"the TLS files cannot be used: {exc}") from exc
    return context


def context_factory(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's ``ssl_context_factory``: our context from the files uvicorn was given.

    A module-level function, so uvicorn can pickle it into ``--workers N`` processes.
    """
    client_ca = config.ssl_ca_certs
    return server_context(
        TlsFiles(
            cert=Path(config.ssl_certfile),
            key=Path(config.ssl_keyfile),
            client_ca=Path(client_ca) if client_ca else None,
        )
    )
