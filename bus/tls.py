"""TLS contexts: for NATS clients and for serving HTTPS.

A client context checks the server's certificate against a given CA (or the
system's CAs) and its host name, and can carry a client certificate for
servers that verify their clients. A server context holds a certificate and
its key. Files that cannot be read are a clear start-up error naming them.
"""

import logging
import ssl
from pathlib import Path

logger = logging.getLogger(__name__)


class TlsFileError(ValueError):
    """A certificate or key file could not be loaded."""

    def __init__(self, what: str, path: Path, reason: str) -> None:
        super().__init__(f"cannot load the {what} {str(path)!r}: {reason}")
        self.path = path


def client_context(
    ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A context that verifies the server against `ca` (or the system's CAs)
    and presents `cert`/`key` when given."""
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs its key, and a key its cert")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca is not None:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as error:
            raise TlsFileError("CA certificate", ca, str(error)) from None
    if cert is not None and key is not None:
        _load_chain(context, cert, key)
    return context


def server_context(
    cert: Path, key: Path, client_ca: Path | None = None
) -> ssl.SSLContext:
    """A context that serves `cert`; with `client_ca`, clients must present a
    certificate signed by it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _load_chain(context, cert, key)
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as error:
            raise TlsFileError("client CA certificate", client_ca, str(error)) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as error:
        raise TlsFileError("certificate and key", cert, str(error)) from None
