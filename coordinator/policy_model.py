"""The DQN the coordinator decides with: loaded from the `policy` bucket or shipped.

At start the newest checkpoint in the bucket wins; without one the checkpoint
shipped in `policy/pretrained/` is used, and without that a fresh network.
On shutdown the current parameters go back to the bucket, so a restarted or
newly elected coordinator carries on with them.
"""

import asyncio
import hashlib
import logging
from dataclasses import dataclass
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
    """'bucket', 'shipped' or 'untrained'."""

    @property
    def version(self) -> str:
        """'untrained', or a digest of the online parameters."""
        if self.source == UNTRAINED:
            return UNTRAINED
        return f"sha256:{params_digest(self.state)}"

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


async def load(js: JetStreamContext) -> PolicyModel:
    """The newest model: the bucket's, else the shipped one, else a fresh one."""
    kv = await js.key_value(subjects.POLICY_BUCKET)
    model: PolicyModel | None = None
    try:
        entry = await kv.get(CHECKPOINT_KEY)
        if entry.value:
            # Rebuilding the state runs JAX for a second or two: not on the loop.
            model = await asyncio.to_thread(
                PolicyModel.from_bytes, entry.value, "bucket"
            )
    except KeyNotFoundError:
        pass
    except ValueError as error:
        logger.warning("checkpoint in the policy bucket is unusable: %s", error)
    if model is None:
        model = await asyncio.to_thread(shipped) or PolicyModel.untrained()
    logger.info("policy model %s loaded from %s", model.version, model.source)
    return model


async def save(js: JetStreamContext, model: PolicyModel) -> None:
    """Store the model's current parameters in the `policy` bucket."""
    kv = await js.key_value(subjects.POLICY_BUCKET)
    await kv.put(CHECKPOINT_KEY, model.to_bytes())
    logger.info("policy model %s saved to the policy bucket", model.version)
