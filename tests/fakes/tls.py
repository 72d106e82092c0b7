"""Self-signed certificates, made with `cryptography`: the one certificate maker of the tests.

Two uses: a TLS certificate for 127.0.0.1 (msal insists on an https authority; Google sign-in
goes over https), and the X.509 certificate Google publishes for each key it signs ID tokens
with (`{kid: PEM}` at the certs URL, read by google-auth).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(key: Any, common_name: str, *, for_tls: bool = False, days: int = 30
                ) -> x509.Certificate:
    """A certificate for `key`'s public key, signed by `key` itself. `for_tls`: valid for
    127.0.0.1 and its own CA, so that a client trusts it with `verify=<its PEM file>`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=for_tls, path_length=None), critical=True))
    if for_tls:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(folder: Path) -> tuple[str, str]:
    """Write cert.pem and key.pem (a TLS certificate for 127.0.0.1) into `folder`; returns their
    paths, in the order werkzeug's `ssl_context` takes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_text(pem(certificate(key, "127.0.0.1", for_tls=True)))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)
