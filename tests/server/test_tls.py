"""TLS with a self-signed certificate, token over TLS, and the warning for clear-text exposure."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import shutil
import subprocess

import grpc
import pytest

from sambridge import Client, SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig


def self_signed(folder, hosts=("127.0.0.1", "127.0.0.2")) -> tuple:
    """(cert path, key path, cert PEM) of a one-day self-signed certificate for ``hosts`` and localhost.

    Made with the ``cryptography`` package when installed, else with the openssl command.
    """
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    try:
        _with_cryptography(cert_path, key_path, hosts)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is available")
        names = ",".join(["DNS:localhost"] + [f"IP:{h}" for h in hosts])
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", f"subjectAltName={names}",
                        "-keyout", str(key_path), "-out", str(cert_path)], check=True, capture_output=True)
    return cert_path, key_path, cert_path.read_bytes()


def _with_cryptography(cert_path, key_path, hosts) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(h)) for h in hosts]
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


def _config(tiny_checkpoint, host="127.0.0.1", tls=None, token="s3cret") -> ServerConfig:
    cert, key = tls or (None, None)
    return ServerConfig(host=host, port=0, token=token, tls_cert=cert, tls_key=key,
                        models=[ModelSource(path=tiny_checkpoint, name="tiny")])


def test_tls_with_token(tiny_checkpoint, start_server, certificate, tmp_path):
    cert, key, cert_pem = certificate
    _, _, address = start_server(_config(tiny_checkpoint, tls=(cert, key)))
    with Client(address, token="s3cret", tls=True, root_certificates=cert_pem, timeout=30) as client:
        assert client.models()[0]["name"] == "tiny"
        assert client.segment(client.upload(_ramp()), box=(2, 2, 20, 20)).shape == (32, 32)
    with Client(address, token="wrong", tls=True, root_certificates=cert_pem, timeout=30) as client:
        with pytest.raises(SamBridgeError) as err:
            client.models()
        assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    # A clear-text client, or one that does not trust the certificate, cannot talk to it.
    other_pem = self_signed(tmp_path)[2]
    for kwargs in (dict(), dict(tls=True, root_certificates=other_pem)):
        with Client(address, token="s3cret", timeout=5, **kwargs) as client:
            with pytest.raises(SamBridgeError) as err:
                client.models()
            assert err.value.code == grpc.StatusCode.UNAVAILABLE


def _ramp():
    import numpy as np

    return np.ones((32, 32), np.uint8) * np.arange(32, dtype=np.uint8)


# 127.0.0.2 is a loopback address the server does not count as local: it stands in for a
# LAN address without any traffic leaving the machine.
def test_non_local_bind_without_tls_warns(tiny_checkpoint, start_server, certificate, caplog):
    with caplog.at_level(logging.WARNING, logger="sambridge.server"):
        _, _, address = start_server(_config(tiny_checkpoint, host="127.0.0.2"))
    address = "127.0.0.2:" + address.rsplit(":", 1)[1]
    assert "without TLS" in caplog.text and "127.0.0.2" in caplog.text
    with Client(address, token="s3cret", timeout=30) as client:
        assert client.models()[0]["name"] == "tiny"

    caplog.clear()
    cert, key, cert_pem = certificate
    with caplog.at_level(logging.WARNING, logger="sambridge.server"):
        _, _, address = start_server(_config(tiny_checkpoint, host="127.0.0.2", tls=(cert, key)))
    address = "127.0.0.2:" + address.rsplit(":", 1)[1]
    assert "without TLS" not in caplog.text
    with Client(address, token="s3cret", tls=True, root_certificates=cert_pem, timeout=30) as client:
        assert client.models()[0]["name"] == "tiny"


def test_local_bind_without_tls_does_not_warn(tiny_checkpoint, start_server, caplog):
    with caplog.at_level(logging.WARNING, logger="sambridge.server"):
        start_server(_config(tiny_checkpoint, token=None))
    assert "without TLS" not in caplog.text
