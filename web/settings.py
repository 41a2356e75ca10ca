"""The web service's settings, read once from the environment."""

import re
from dataclasses import dataclass, field
from pathlib import Path

from bus.settings import BusSettings, env_int, env_path, env_str

MIB = 1024 * 1024
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")


@dataclass(frozen=True)
class WebSettings:
    """Where the web service listens and how much it accepts per request."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = 5002
    """TCP port to listen on."""
    max_upload_bytes: int = 512 * MIB
    """Largest single uploaded file."""
    max_files_per_request: int = 100
    """Most files one upload request may carry."""
    api_token: str | None = field(default=None, repr=False)
    """Bearer token every API request must carry; None leaves the API open."""
    tls_cert: Path | None = None
    """Certificate (chain) to serve HTTPS with; None serves plain HTTP."""
    tls_key: Path | None = field(default=None, repr=False)
    """The certificate's private key."""
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise ValueError("MAX_UPLOAD_BYTES must be at least 1")
        if self.max_files_per_request < 1:
            raise ValueError("MAX_FILES_PER_REQUEST must be at least 1")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"WEB_PORT must be a TCP port, not {self.port}")
        if self.api_token is not None and not _TOKEN.fullmatch(self.api_token):
            # The token travels in a header and a query string: keep it plain.
            raise ValueError(
                "API_TOKEN must be 1-512 printable ASCII characters without spaces"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("WEB_TLS_CERT and WEB_TLS_KEY must be set together")

    @property
    def scheme(self) -> str:
        """`https` when a certificate is set, else `http`."""
        return "https" if self.tls_cert is not None else "http"

    @property
    def max_request_bytes(self) -> int:
        """The largest request body worth starting to read."""
        # Room for every file at its limit plus the multipart framing and fields.
        return self.max_upload_bytes * self.max_files_per_request + MIB

    @classmethod
    def from_env(cls) -> "WebSettings":
        """Read WEB_HOST, WEB_PORT, the upload limits, API_TOKEN, WEB_TLS_CERT and
        WEB_TLS_KEY, and the bus."""
        return cls(
            host=env_str("WEB_HOST", "127.0.0.1"),
            port=env_int("WEB_PORT", 5002),
            max_upload_bytes=env_int("MAX_UPLOAD_BYTES", 512 * MIB),
            max_files_per_request=env_int("MAX_FILES_PER_REQUEST", 100),
            api_token=env_str("API_TOKEN", "") or None,
            tls_cert=env_path("WEB_TLS_CERT"),
            tls_key=env_path("WEB_TLS_KEY"),
            bus=BusSettings.from_env(),
        )
