"""The broker's certificate authority and server certificates, and a NATS cluster's route
certificates, made with ``cryptography``."""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=825)
"""The longest lifetime Apple's and browsers' TLS clients still accept for a server certificate;
renewal is not automated yet (docs/security.md, "Open")."""
CLOCK_SKEW = timedelta(hours=1)
"""Back-dating, so that a box whose clock is a little behind still accepts a fresh certificate."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_ca(common_name: str, now: datetime) -> Issued:
    """Return a fresh self-signed CA (P-256) that signs leaf certificates only (no
    intermediate CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def new_server_certificate(ca: Issued, hosts: list[str], now: datetime) -> Issued:
    """Return a server certificate for ``hosts`` (DNS names or IP addresses), signed by ``ca``."""
    return _leaf(ca, hosts, now, [ExtendedKeyUsageOID.SERVER_AUTH])


def new_route_certificate(ca: Issued, hosts: list[str], now: datetime) -> Issued:
    """Return a cluster route certificate for ``hosts``, signed by ``ca``: a node presents it
    both as the server of the routes it accepts and as the client of the routes it dials.

    A NATS cluster with mutual TLS on its routes (``deploy/nats/node.conf``: ``verify: true``)
    refuses a server certificate there: Go checks a client's certificate for the client-auth
    usage ("incompatible key usage"), so a route certificate carries both."""
    return _leaf(ca, hosts, now, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])


def _leaf(
    ca: Issued, hosts: list[str], now: datetime, usages: list[x509.ObjectIdentifier]
) -> Issued:
    if not hosts:
        raise ValueError("a server certificate needs at least one host name")
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
