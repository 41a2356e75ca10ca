"""Settings every service shares, read once from the environment."""

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_INBOX_PREFIX = "_INBOX"

CREDENTIAL_VARIABLES = (
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_TOKEN",
    "NATS_CREDS",
    "NATS_INBOX_PREFIX",
)
"""Every variable that says who a service is on NATS."""


def env_str(name: str, default: str) -> str:
    """A string setting, or its default when unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    """An integer setting; a malformed value is a clear start-up error."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None


def env_float(name: str, default: float) -> float:
    """A number setting; a malformed value is a clear start-up error."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off."""
    raw = os.environ.get(name)
    if not raw:
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def env_path(name: str) -> Path | None:
    """A file setting: None when unset; a missing file is a clear start-up error."""
    raw = os.environ.get(name)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError(f"{name} names {raw!r}, which is not a readable file")
    return path


def user_inbox_prefix(user: str) -> str:
    """The inbox prefix of a NATS user: `_INBOX.<user>`.

    Reply subjects then carry the user's name, so the server can let each
    user subscribe to its own replies only, and never to another's.
    """
    if not user or any(c in user for c in ".*> \t\r\n"):
        raise ValueError(
            f"NATS_USER {user!r} cannot be a subject token; "
            "set NATS_INBOX_PREFIX to the prefix the server allows it"
        )
    return f"{DEFAULT_INBOX_PREFIX}.{user}"


@dataclass(frozen=True)
class BusSettings:
    """How to reach NATS and how to lay out JetStream."""

    nats_url: str = DEFAULT_NATS_URL
    """Comma-separated NATS server URLs."""
    replicas: int = 1
    """Replica count for every stream and bucket (3 on a cluster)."""
    events_max_age_s: float = 24 * 3600
    """How long task events stay in the EVENTS stream."""
    node_ttl_s: float = 10.0
    """A node whose heartbeat is older than this is gone."""
    verbose: bool = False
    """Log every message at debug level."""
    user: str | None = None
    """User name to log in with (with `password`); None with a token, creds or
    an open server."""
    password: str | None = field(default=None, repr=False)
    """The user's password."""
    token: str | None = field(default=None, repr=False)
    """A token to log in with instead of a user and password."""
    creds_file: Path | None = None
    """A `.creds` file (user JWT and NKey seed) for decentralised auth."""
    inbox_prefix: str | None = None
    """Prefix of reply subjects; None: `_INBOX.<user>` with a user, else `_INBOX`."""
    tls_ca: Path | None = None
    """CA certificate(s) that signed the server's certificate; None: the
    system's CAs (used only when the server asks for TLS)."""
    tls_cert: Path | None = None
    """Client certificate, for a server that verifies its clients."""
    tls_key: Path | None = field(default=None, repr=False)
    """The client certificate's private key."""

    def __post_init__(self) -> None:
        if (self.user is None) != (self.password is None):
            raise ValueError("NATS_USER and NATS_PASSWORD must be set together")
        ways = [self.user is not None, self.token is not None, self.creds_file]
        if sum(bool(way) for way in ways) > 1:
            raise ValueError(
                "set only one of NATS_USER/NATS_PASSWORD, NATS_TOKEN and NATS_CREDS"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("NATS_TLS_CERT and NATS_TLS_KEY must be set together")
        if self.inbox_prefix is None and self.user is not None:
            user_inbox_prefix(self.user)  # fails early on a name it cannot use

    @property
    def inbox(self) -> str:
        """The prefix of this connection's reply subjects."""
        if self.inbox_prefix:
            return self.inbox_prefix
        if self.user is not None:
            return user_inbox_prefix(self.user)
        return DEFAULT_INBOX_PREFIX

    @property
    def uses_tls(self) -> bool:
        """Whether a CA or a client certificate was configured."""
        return self.tls_ca is not None or self.tls_cert is not None

    @classmethod
    def from_env(cls) -> "BusSettings":
        """Read NATS_URL, NATS_REPLICAS, EVENTS_MAX_AGE_S, NODE_TTL_S, VERBOSE,
        the credentials (NATS_USER and NATS_PASSWORD, NATS_TOKEN or NATS_CREDS,
        NATS_INBOX_PREFIX) and TLS (NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY)."""
        return cls(
            nats_url=env_str("NATS_URL", DEFAULT_NATS_URL),
            replicas=env_int("NATS_REPLICAS", 1),
            events_max_age_s=env_float("EVENTS_MAX_AGE_S", 24 * 3600),
            node_ttl_s=env_float("NODE_TTL_S", 10.0),
            verbose=env_bool("VERBOSE", False),
            user=os.environ.get("NATS_USER") or None,
            password=os.environ.get("NATS_PASSWORD") or None,
            token=os.environ.get("NATS_TOKEN") or None,
            creds_file=env_path("NATS_CREDS"),
            inbox_prefix=os.environ.get("NATS_INBOX_PREFIX") or None,
            tls_ca=env_path("NATS_TLS_CA"),
            tls_cert=env_path("NATS_TLS_CERT"),
            tls_key=env_path("NATS_TLS_KEY"),
        )
