"""DQN checkpoints survive a round trip bit for bit."""

import jax
import msgpack
import numpy as np
import pytest

from policy import checkpoint, dqn
from policy.dqn import DQNConfig
from policy.observation import OBS_DIM
from policy.replay import Transition

CONFIG = DQNConfig(hidden=16, layers=2, learning_rate=3e-4)


def _trained_state() -> dqn.TrainState:
    key = jax.random.key(3)
    state = dqn.init_train_state(key, CONFIG)
    k1, k2 = jax.random.split(key)
    batch = Transition(
        obs=jax.random.normal(k1, (16, OBS_DIM)),
        action=jax.numpy.zeros(16, jax.numpy.int32),
        reward=jax.numpy.full(16, -0.5),
        next_obs=jax.random.normal(k2, (16, OBS_DIM)),
        done=jax.numpy.zeros(16),
        weight=jax.numpy.ones(16),
    )
    for _ in range(3):
        state, _ = dqn.update(state, batch, CONFIG)
    return state


def test_round_trip_is_bit_for_bit(tmp_path):
    state = _trained_state()
    path = tmp_path / "ckpt.msgpack"
    checkpoint.save(path, state, CONFIG, {"scenario": "drift"})
    loaded, config, meta = checkpoint.load(path)

    assert config == CONFIG and meta == {"scenario": "drift"}
    assert jax.tree.structure(loaded) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(loaded), strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    assert checkpoint.to_bytes(loaded, config, meta) == path.read_bytes()


def test_loaded_state_keeps_training_identically():
    state = _trained_state()
    loaded, _, _ = checkpoint.from_bytes(checkpoint.to_bytes(state, CONFIG))
    obs = jax.random.normal(jax.random.key(5), (8, OBS_DIM))
    np.testing.assert_array_equal(
        np.asarray(dqn.q_values(state.params, obs)),
        np.asarray(dqn.q_values(loaded.params, obs)),
    )
    assert int(loaded.updates) == 3


def test_wrong_version_is_refused():
    body = msgpack.unpackb(checkpoint.to_bytes(_trained_state(), CONFIG))
    body["version"] = checkpoint.VERSION + 1
    with pytest.raises(ValueError, match="version"):
        checkpoint.from_bytes(msgpack.packb(body))


def test_mismatched_array_is_refused():
    body = msgpack.unpackb(checkpoint.to_bytes(_trained_state(), CONFIG))
    body["config"]["hidden"] = 32
    with pytest.raises(ValueError, match="expected"):
        checkpoint.from_bytes(msgpack.packb(body))
