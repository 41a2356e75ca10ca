"""Settings every service shares, read once from the environment."""

import os
from dataclasses import dataclass

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


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

    @classmethod
    def from_env(cls) -> "BusSettings":
        """Read NATS_URL, NATS_REPLICAS, EVENTS_MAX_AGE_S, NODE_TTL_S, VERBOSE."""
        return cls(
            nats_url=env_str("NATS_URL", DEFAULT_NATS_URL),
            replicas=env_int("NATS_REPLICAS", 1),
            events_max_age_s=env_float("EVENTS_MAX_AGE_S", 24 * 3600),
            node_ttl_s=env_float("NODE_TTL_S", 10.0),
            verbose=env_bool("VERBOSE", False),
        )
