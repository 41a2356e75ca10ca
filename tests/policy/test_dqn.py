"""The DQN: network, update, action selection, replay, training and the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policy import checkpoint, cli, dqn, replay, scenarios, train
from policy.dqn import DQNConfig
from policy.observation import OBS_DIM

TINY = DQNConfig(
    steps=65_536,
    n_envs=128,
    batch_size=128,
    buffer_size=16_384,
    learning_starts=4_096,
    eps_fraction=0.4,
)
"""A short training run; the CLI test uses the same so the trainer compiles once."""
EVAL_SHAPE = (8, 128)
"""Environments and steps of every evaluation here (one compiled rollout)."""


@pytest.fixture
def key() -> jax.Array:
    return jax.random.key(7)


def _numpy_q(params, obs: np.ndarray) -> np.ndarray:
    x = obs.astype(np.float64)
    for layer in params[:-1]:
        x = np.maximum(x @ np.asarray(layer["w"]) + np.asarray(layer["b"]), 0.0)
    return x @ np.asarray(params[-1]["w"]) + np.asarray(params[-1]["b"])


def _batch(key: jax.Array, n: int, weight: float = 1.0) -> replay.Transition:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return replay.Transition(
        obs=jax.random.normal(k1, (n, OBS_DIM)),
        action=jax.random.randint(k2, (n,), 0, 2),
        reward=-jax.random.uniform(k3, (n,)),
        next_obs=jax.random.normal(k4, (n, OBS_DIM)),
        done=jnp.zeros(n).at[0].set(1.0),
        weight=jnp.full(n, weight),
    )


def test_q_values_match_numpy_reference(key):
    params = dqn.init_params(key, DQNConfig(hidden=16))
    obs = np.asarray(jax.random.normal(key, (5, OBS_DIM)))
    q = dqn.q_values(params, jnp.asarray(obs))
    assert q.shape == (5, 2)
    np.testing.assert_allclose(np.asarray(q), _numpy_q(params, obs), rtol=1e-4)


def test_td_loss_matches_numpy_double_dqn_reference(key):
    online = dqn.init_params(key, DQNConfig(hidden=16))
    target = dqn.init_params(jax.random.key(1), DQNConfig(hidden=16))
    batch = _batch(key, 8)
    loss, _ = dqn.td_loss(online, target, batch, 0.9)

    obs, next_obs = np.asarray(batch.obs), np.asarray(batch.next_obs)
    q = _numpy_q(online, obs)[np.arange(8), np.asarray(batch.action)]
    pick = _numpy_q(online, next_obs).argmax(axis=1)
    next_q = _numpy_q(target, next_obs)[np.arange(8), pick]
    y = np.asarray(batch.reward) + 0.9 * (1 - np.asarray(batch.done)) * next_q
    err = np.abs(q - y)
    huber = np.where(err <= 1.0, 0.5 * err**2, err - 0.5)
    assert float(loss) == pytest.approx(huber.mean(), rel=1e-4)


def test_update_lowers_the_loss_and_ignores_padding(key):
    state = dqn.init_train_state(key, TINY)
    batch = _batch(key, 64)
    before, _ = dqn.td_loss(state.params, state.target_params, batch, TINY.gamma)
    for _ in range(20):
        state, _ = dqn.update(state, batch, TINY)
    after, _ = dqn.td_loss(state.params, state.target_params, batch, TINY.gamma)
    assert float(after) < float(before)
    assert int(state.updates) == 20

    fresh = dqn.init_train_state(key, TINY)
    padded, _ = dqn.update(fresh, _batch(key, 64, weight=0.0), TINY)
    unchanged = (fresh.params, fresh.opt_state), (padded.params, padded.opt_state)
    for a, b in zip(*map(jax.tree.leaves, unchanged), strict=True):
        if a.dtype == jnp.float32:  # Adam's step count still advances
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_act_is_greedy_at_zero_epsilon_and_zero_on_padding(key):
    params = dqn.init_params(key, TINY)
    obs = np.asarray(jax.random.normal(key, (5, OBS_DIM)), np.float32)
    padded, mask = dqn.pad_to_bucket(obs)
    assert padded.shape == (8, OBS_DIM) and mask.sum() == 5

    actions, q = dqn.act(params, padded, mask, key, 0.0)
    assert actions.shape == (8,) and q.shape == (8, 2)
    np.testing.assert_array_equal(
        np.asarray(actions[:5]), np.asarray(dqn.greedy_actions(params, obs))
    )
    assert np.all(np.asarray(actions[5:]) == 0)
    again, _ = dqn.act(params, padded, mask, key, 1.0)
    same, _ = dqn.act(params, padded, mask, key, 1.0)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(same))


def test_pad_to_bucket_rejects_oversized_batches():
    with pytest.raises(ValueError, match="largest bucket"):
        dqn.pad_to_bucket(np.zeros((dqn.BUCKETS[-1] + 1, OBS_DIM), np.float32))


def test_replay_ring_wraps_and_samples_filled_rows(key):
    buffer = replay.init(8, OBS_DIM)
    for i in range(3):
        rows = _batch(jax.random.fold_in(key, i), 4)._replace(reward=jnp.full(4, -i))
        buffer = replay.add(buffer, rows)
    assert int(buffer.size) == 8 and int(buffer.pos) == 4
    np.testing.assert_array_equal(
        np.asarray(buffer.data.reward), [-2, -2, -2, -2, -1, -1, -1, -1]
    )
    sample = replay.sample(buffer, key, 16)
    assert sample.obs.shape == (16, OBS_DIM)
    assert set(np.asarray(sample.reward).tolist()) <= {-1.0, -2.0}


def test_short_training_beats_the_untrained_network_on_steady(key):
    steady = scenarios.get("steady")
    run_key = jax.random.key(TINY.seed)
    # The network train() starts from (its first split of the run key).
    untrained = dqn.init_train_state(jax.random.split(run_key, 3)[0], TINY)
    state, metrics = train.train(TINY, steady, run_key)
    assert metrics.loss.shape == (TINY.steps // TINY.n_envs,)

    p, eval_key = steady.params(), jax.random.key(99)
    runs = [
        train.rollout("dqn", s.params, p, eval_key, *EVAL_SHAPE)
        for s in (untrained, state)
    ]
    before, after = (train.summarize(r)["objective_s"] for r in runs)
    assert after < 0.95 * before


def test_cli_trains_saves_and_evaluates(tmp_path, capsys):
    out = tmp_path / "dqn.msgpack"
    small = []
    for field in ("steps", "n_envs", "batch_size", "buffer_size", "learning_starts"):
        small += [f"--{field.replace('_', '-')}", str(getattr(TINY, field))]
    small += ["--eps-fraction", str(TINY.eps_fraction)]
    evals = ["--eval-envs", str(EVAL_SHAPE[0]), "--eval-steps", str(EVAL_SHAPE[1])]
    cli.main(["train", "--scenario", "steady", "--out", str(out), *small, *evals])
    printed = capsys.readouterr().out
    assert "steps/s" in printed and "greedy" in printed
    _, config, meta = checkpoint.load(out)
    assert config == TINY and meta == {"scenario": "steady"}

    cli.main(["eval", "--checkpoint", str(out), "--scenario", "drift", *evals])
    printed = capsys.readouterr().out
    assert "drift" in printed and "dqn" in printed and "prototype" in printed
