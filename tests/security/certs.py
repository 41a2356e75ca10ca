"""A throw-away certificate authority, made with the `openssl` command line."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
"""A leaf certificate that is good for loopback, as a server or a client."""


@dataclass(frozen=True)
class Certificates:
    """A CA and two leaf certificates it signed (each with its key)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A second CA that signed nothing here: trusting it trusts no one."""


def make_certificates(folder: Path) -> Certificates:
    """Make a CA, a server and a client certificate under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    _make_ca(folder, "ca", "Offload test CA")
    _make_ca(folder, "other-ca", "Some other CA")
    (folder / "leaf.ext").write_text(EXTENSIONS)
    for name in ("server", "client"):
        _make_leaf(folder, name)
    return Certificates(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
    )


def _make_ca(folder: Path, name: str, common_name: str) -> None:
    _openssl(
        folder,
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", f"/CN={common_name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _make_leaf(folder: Path, name: str) -> None:
    _openssl(
        folder,
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
        "-subj", f"/CN=offload-{name}",
    )  # fmt: skip
    _openssl(
        folder,
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
        "-extfile", "leaf.ext",
    )  # fmt: skip


def _openssl(folder: Path, *args: str) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=folder, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")
