"""The coordinator's settings, read once from the environment."""

from dataclasses import dataclass, field

from bus.settings import BusSettings, env_bool, env_float, env_int, env_str

POLICIES = ("dqn", "greedy", "all-edge", "all-cloud", "random")
ALIASES = {"earliest-finish": "greedy"}
"""Older policy names still accepted."""
LARGEST_BATCH = 256
"""The DQN's and the PSO's largest compiled bucket (`policy.dqn.BUCKETS`)."""


@dataclass(frozen=True)
class LearningSettings:
    """How the coordinator keeps training its DQN on what really happens."""

    enabled: bool = True
    """Whether completions train the network at all."""
    interval_s: float = 2.0
    """Seconds between training rounds (a round runs only with new experience)."""
    updates_per_round: int = 8
    """Gradient steps per round."""
    batch_size: int = 64
    """Transitions per gradient step."""
    learn_starts: int = 64
    """Completed transitions needed before the first round."""
    learning_rate: float = 3e-4
    """Adam step size online: smaller than in the simulator, as real samples are
    few and noisy and the pre-trained network is a good start."""
    replay_capacity: int = 50_000
    """Transitions kept for replay (the oldest are overwritten)."""
    pending_limit: int = 100_000
    """Decisions kept while waiting for their outcome (the oldest are dropped)."""
    checkpoint_s: float = 60.0
    """Seconds between checkpoints to the `policy` bucket while learning."""
    epsilon_start: float = 0.05
    """Share of decisions explored at random at first."""
    epsilon_floor: float = 0.01
    """Exploration never decays below this."""
    epsilon_decay_decisions: int = 5_000
    """Decisions over which exploration decays linearly to the floor."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon_floor <= self.epsilon_start <= 1.0:
            raise ValueError(
                "need 0 <= DQN_EPSILON_FLOOR <= DQN_EPSILON <= 1, got "
                f"{self.epsilon_floor} and {self.epsilon_start}"
            )
        if min(self.updates_per_round, self.batch_size, self.replay_capacity) < 1:
            raise ValueError(
                "DQN_UPDATES_PER_ROUND, DQN_BATCH and DQN_REPLAY must be positive"
            )
        if self.interval_s <= 0 or self.checkpoint_s <= 0 or self.learning_rate <= 0:
            raise ValueError(
                "DQN_LEARN_INTERVAL_S, DQN_CHECKPOINT_S and DQN_LEARNING_RATE "
                "must be positive"
            )

    @classmethod
    def from_env(cls) -> "LearningSettings":
        """Read the DQN_* learning variables (see the README's table)."""
        return cls(
            enabled=env_bool("DQN_LEARN", True),
            interval_s=env_float("DQN_LEARN_INTERVAL_S", 2.0),
            updates_per_round=env_int("DQN_UPDATES_PER_ROUND", 8),
            batch_size=env_int("DQN_BATCH", 64),
            learn_starts=env_int("DQN_LEARN_STARTS", 64),
            learning_rate=env_float("DQN_LEARNING_RATE", 3e-4),
            replay_capacity=env_int("DQN_REPLAY", 50_000),
            checkpoint_s=env_float("DQN_CHECKPOINT_S", 60.0),
            epsilon_start=env_float("DQN_EPSILON", 0.05),
            epsilon_floor=env_float("DQN_EPSILON_FLOOR", 0.01),
            epsilon_decay_decisions=env_int("DQN_EPSILON_DECAY", 5_000),
        )

    def epsilon(self, decisions: int) -> float:
        """Exploration after `decisions` decisions."""
        if self.epsilon_decay_decisions <= 0:
            return self.epsilon_floor
        done = min(decisions / self.epsilon_decay_decisions, 1.0)
        return self.epsilon_start + done * (self.epsilon_floor - self.epsilon_start)


@dataclass(frozen=True)
class CoordinatorSettings:
    """How the coordinator batches and places work."""

    batch_window_ms: float = 5.0
    """How long to keep collecting scheduled tasks before deciding."""
    max_batch: int = 256
    """Decide at once when this many tasks are waiting."""
    policy: str = "dqn"
    """Placement policy name (an alias is replaced by its policy)."""
    seed: int = 0
    """Seed of the DQN's exploration, the PSO and the random baseline."""
    no_node_retry_s: float = 2.0
    """When no node is live, look again after this long."""
    learning: LearningSettings = field(default_factory=LearningSettings)
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", ALIASES.get(self.policy, self.policy))
        if self.policy not in POLICIES:
            raise ValueError(f"POLICY must be one of {POLICIES}, not {self.policy!r}")
        if not 1 <= self.max_batch <= LARGEST_BATCH or self.batch_window_ms < 0:
            raise ValueError(
                f"MAX_BATCH must be in 1..{LARGEST_BATCH} and BATCH_WINDOW_MS >= 0"
            )

    @classmethod
    def from_env(cls) -> "CoordinatorSettings":
        """Read BATCH_WINDOW_MS, MAX_BATCH, POLICY, POLICY_SEED, DQN_*, bus."""
        return cls(
            batch_window_ms=env_float("BATCH_WINDOW_MS", 5.0),
            max_batch=env_int("MAX_BATCH", 256),
            policy=env_str("POLICY", "dqn"),
            learning=LearningSettings.from_env(),
            seed=env_int("POLICY_SEED", 0),
            bus=BusSettings.from_env(),
        )
