"""The coordinator's settings, read once from the environment."""

from dataclasses import dataclass, field

from bus.settings import BusSettings, env_float, env_int, env_str

POLICIES = ("earliest-finish",)


@dataclass(frozen=True)
class CoordinatorSettings:
    """How the coordinator batches and places work."""

    batch_window_ms: float = 5.0
    """How long to keep collecting scheduled tasks before deciding."""
    max_batch: int = 256
    """Decide at once when this many tasks are waiting."""
    policy: str = "earliest-finish"
    """Placement policy name."""
    no_node_retry_s: float = 2.0
    """When no node is live, look again after this long."""
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"POLICY must be one of {POLICIES}, not {self.policy!r}")
        if self.max_batch < 1 or self.batch_window_ms < 0:
            raise ValueError("MAX_BATCH must be >= 1 and BATCH_WINDOW_MS >= 0")

    @classmethod
    def from_env(cls) -> "CoordinatorSettings":
        """Read BATCH_WINDOW_MS, MAX_BATCH, POLICY and the bus settings."""
        return cls(
            batch_window_ms=env_float("BATCH_WINDOW_MS", 5.0),
            max_batch=env_int("MAX_BATCH", 256),
            policy=env_str("POLICY", "earliest-finish"),
            bus=BusSettings.from_env(),
        )
