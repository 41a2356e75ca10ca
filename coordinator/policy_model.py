"""The DQN the coordinator decides with: loaded from the `policy` bucket or shipped.

At start the newest checkpoint in the bucket wins; without one the checkpoint
shipped in `policy/pretrained/` is used, and without that a fresh network.
Online learning (`coordinator.learning`) saves to the bucket on a schedule and
the coordinator saves on shutdown, so a restarted or newly elected coordinator
carries on with what was learned.
"""

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from importlib import resources

import jax
import numpy as np
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from bus import subjects
from policy import checkpoint
from policy.dqn import DQNConfig, TrainState, init_train_state

logger = logging.getLogger(__name__)

CHECKPOINT_KEY = "dqn"
"""Key of the coordinator's checkpoint in the `policy` bucket."""
SHIPPED = "pretrained/dqn.msgpack"
"""The pre-trained checkpoint inside the `policy` package."""
UNTRAINED = "untrained"


@dataclass
class PolicyModel:
    """A train state with its config, metadata and where it came from."""

    state: TrainState
    config: DQNConfig
    meta: dict
    source: str
    """'bucket', 'shipped', 'untrained' or 'online' (moved by learning)."""
    version: str = field(init=False)
    """'untrained', or a digest of the online parameters (computed once)."""

    def __post_init__(self) -> None:
        if self.source == UNTRAINED:
            self.version = UNTRAINED
        else:
            self.version = f"sha256:{params_digest(self.state)}"

    def learned(self, state: TrainState, meta: dict) -> "PolicyModel":
        """The model after online learning moved it to `state`."""
        return PolicyModel(state, self.config, meta, "online")

    def to_bytes(self) -> bytes:
        """The model as checkpoint bytes."""
        return checkpoint.to_bytes(self.state, self.config, self.meta)

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> "PolicyModel":
        """A model from checkpoint bytes."""
        state, config, meta = checkpoint.from_bytes(data)
        return cls(state, config, meta, source)

    @classmethod
    def untrained(cls, seed: int = 0) -> "PolicyModel":
        """A fresh network, for when no checkpoint exists at all."""
        config = DQNConfig(seed=seed)
        state = init_train_state(jax.random.key(seed), config)
        return cls(state, config, {}, UNTRAINED)


def params_digest(state: TrainState) -> str:
    """First 16 hex digits of the SHA-256 of the online parameters' bytes."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(state.params):
        digest.update(np.asarray(leaf).tobytes())
    return digest.hexdigest()[:16]


def shipped() -> PolicyModel | None:
    """The checkpoint shipped with the package, or None when it is missing."""
    path = resources.files("policy").joinpath(SHIPPED)
    if not path.is_file():
        return None
    return PolicyModel.from_bytes(path.read_bytes(), "shipped")


async def load_stored(js: JetStreamContext) -> PolicyModel | None:
    """The checkpoint in the `policy` bucket; None when there is no usable one."""
    kv = await js.key_value(subjects.POLICY_BUCKET)
    try:
        entry = await kv.get(CHECKPOINT_KEY)
    except KeyNotFoundError:
        return None
    if not entry.value:
        return None
    try:
        # Rebuilding the state runs JAX for a moment: not on the event loop.
        return await asyncio.to_thread(PolicyModel.from_bytes, entry.value, "bucket")
    except ValueError as error:
        logger.warning("checkpoint in the policy bucket is unusable: %s", error)
        return None


async def load(js: JetStreamContext) -> PolicyModel:
    """The newest model: the bucket's, else the shipped one, else a fresh one."""
    model = await load_stored(js)
    if model is None:
        model = await asyncio.to_thread(shipped) or PolicyModel.untrained()
    logger.info("policy model %s loaded from %s", model.version, model.source)
    return model


async def save(js: JetStreamContext, model: PolicyModel) -> None:
    """Store the model's current parameters in the `policy` bucket."""
    kv = await js.key_value(subjects.POLICY_BUCKET)
    await kv.put(CHECKPOINT_KEY, model.to_bytes())
    logger.info("policy model %s saved to the policy bucket", model.version)
