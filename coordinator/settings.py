"""The coordinator's settings, read once from the environment."""

from dataclasses import dataclass, field

from bus.settings import BusSettings, env_float, env_int, env_str

POLICIES = ("dqn", "greedy", "all-edge", "all-cloud", "random")
ALIASES = {"earliest-finish": "greedy"}
"""Older policy names still accepted."""
LARGEST_BATCH = 256
"""The DQN's and the PSO's largest compiled bucket (`policy.dqn.BUCKETS`)."""


@dataclass(frozen=True)
class CoordinatorSettings:
    """How the coordinator batches and places work."""

    batch_window_ms: float = 5.0
    """How long to keep collecting scheduled tasks before deciding."""
    max_batch: int = 256
    """Decide at once when this many tasks are waiting."""
    policy: str = "dqn"
    """Placement policy name (an alias is replaced by its policy)."""
    epsilon: float = 0.02
    """Share of DQN decisions taken at random, to keep exploring."""
    seed: int = 0
    """Seed of the DQN's exploration, the PSO and the random baseline."""
    no_node_retry_s: float = 2.0
    """When no node is live, look again after this long."""
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", ALIASES.get(self.policy, self.policy))
        if self.policy not in POLICIES:
            raise ValueError(f"POLICY must be one of {POLICIES}, not {self.policy!r}")
        if not 1 <= self.max_batch <= LARGEST_BATCH or self.batch_window_ms < 0:
            raise ValueError(
                f"MAX_BATCH must be in 1..{LARGEST_BATCH} and BATCH_WINDOW_MS >= 0"
            )
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("DQN_EPSILON must be between 0 and 1")

    @classmethod
    def from_env(cls) -> "CoordinatorSettings":
        """Read BATCH_WINDOW_MS, MAX_BATCH, POLICY, DQN_EPSILON, POLICY_SEED, bus."""
        return cls(
            batch_window_ms=env_float("BATCH_WINDOW_MS", 5.0),
            max_batch=env_int("MAX_BATCH", 256),
            policy=env_str("POLICY", "dqn"),
            epsilon=env_float("DQN_EPSILON", 0.02),
            seed=env_int("POLICY_SEED", 0),
            bus=BusSettings.from_env(),
        )
