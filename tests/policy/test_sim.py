"""The offloading simulator, its observation and the tier baselines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policy import dqn, observation, scenarios, sim, tier_baselines, train
from policy.observation import OBS_DIM


@pytest.fixture
def key() -> jax.Array:
    return jax.random.key(42)


@pytest.fixture
def steady() -> sim.EnvParams:
    return scenarios.get("steady").params()


def _reset_many(key: jax.Array, p: sim.EnvParams, n: int) -> sim.EnvState:
    return jax.vmap(sim.reset, in_axes=(0, None))(jax.random.split(key, n), p)


def test_vectorized_step_keeps_shapes_and_gives_finite_figures(key, steady):
    state = _reset_many(key, steady, 4)
    actions = jnp.array([0, 1, 0, 1])
    step = jax.jit(jax.vmap(sim.step, in_axes=(0, 0, 0, None)))
    new, reward, done, outcome = step(state, actions, jax.random.split(key, 4), steady)

    shapes = jax.tree.map(jnp.shape, state)
    assert jax.tree.map(jnp.shape, new) == shapes
    assert reward.shape == done.shape == outcome.latency_s.shape == (4,)
    assert np.all(np.isfinite(reward)) and np.all(np.asarray(reward) < 0)
    obs = jax.jit(train._observe)(new, steady)
    assert obs.shape == (4, OBS_DIM) and obs.dtype == jnp.float32
    assert np.all(np.isfinite(obs))
    # Cloud tasks cost money; edge tasks do not.
    assert float(outcome.cost[0]) == 0.0 and float(outcome.cost[1]) > 0.0


def test_same_key_same_trajectory(key, steady):
    params = dqn.init_params(jax.random.key(0), dqn.DQNConfig())
    first = train.rollout("random", params, steady, key, 8, 128)
    second = train.rollout("random", params, steady, key, 8, 128)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_tasks_and_arrivals_do_not_depend_on_the_actions(key, steady):
    step = jax.jit(sim.step)

    def sizes(action: int) -> tuple[np.ndarray, float]:
        state = sim.reset(key, steady)
        seen = []
        for k in jax.random.split(key, 20):
            seen.append(float(state.task.size_mb))
            state, *_ = step(state, jnp.int32(action), k, steady)
        return np.array(seen), float(state.t)

    edge_sizes, edge_t = sizes(0)
    cloud_sizes, cloud_t = sizes(1)
    np.testing.assert_array_equal(edge_sizes, cloud_sizes)
    assert edge_t == cloud_t


def test_environment_resets_after_episode_len(key):
    p = scenarios.get("steady").params()._replace(episode_len=jnp.int32(3))
    state = sim.reset(key, p)
    dones = []
    for k in jax.random.split(key, 6):
        state, _, done, _ = sim.step(state, jnp.int32(1), k, p)
        dones.append(bool(done))
    assert dones == [False, False, True, False, False, True]
    assert int(state.step) == 0


def test_cloud_latency_matches_numpy_reference(key, steady):
    state = sim.reset(key, steady)
    state = state._replace(cloud_backlog=state.cloud_backlog.at[:].set(0.7))
    _, reward, _, outcome = sim.step(state, jnp.int32(1), key, steady)

    size, work = float(state.task.size_mb), float(state.task.work_s)
    transfer = 0.08 + 2 * size / 12.5
    compute = work / 1.5
    latency = transfer + 0.7 + compute
    cost = 1.0 * compute
    assert float(outcome.latency_s) == pytest.approx(latency, rel=1e-5)
    assert float(outcome.cost) == pytest.approx(cost, rel=1e-5)
    assert float(reward) == pytest.approx(-(latency + cost) / 2.0, rel=1e-5)


def test_dead_node_looks_idle_until_its_heartbeat_expires(key, steady):
    state = sim.reset(key, steady)
    state = state._replace(
        t=jnp.float32(10.0),
        edge_backlog=jnp.array([3.0, 3.0, 3.0, 0.0]),
        edge_alive=jnp.array([True, True, True, False]),
        edge_fail_t=jnp.array([jnp.inf, jnp.inf, jnp.inf, 8.0]),
    )
    ctx = sim.context(state, steady)
    assert float(ctx.edge_live) == 4.0
    assert float(ctx.pick_hb_age_s) >= 2.0

    _, _, _, outcome = sim.step(state, jnp.int32(0), key, steady)
    # Lost until the expiry at t=13, then re-planned to the cloud.
    assert int(outcome.tier) == 1
    assert float(outcome.latency_s) > 3.0

    later = state._replace(t=jnp.float32(13.5))
    assert float(sim.context(later, steady).edge_live) == 3.0


def test_estimates_change_only_when_completions_are_revealed(key):
    p = scenarios.get("drift").params()
    state = sim.reset(key, p)
    state = state._replace(cloud_factor=jnp.float32(0.1))
    nominal = float(state.est.cloud_bw)
    state, *_ = sim.step(state, jnp.int32(1), key, p)
    # The task just sent has not finished: nothing learned yet.
    assert float(state.est.cloud_bw) == nominal
    later = state._replace(t=state.t + 100.0)
    est, pending = sim._reveal(later, p)
    assert float(est.cloud_bw) < nominal
    assert not bool(pending.valid.any())


def test_build_matches_the_simulator_encoding(key, steady):
    ctx = sim.context(sim.reset(key, steady), steady)
    from_sim = np.asarray(observation.from_context(ctx))
    live = observation.build(**{k: float(v) for k, v in ctx._asdict().items()})
    assert live.shape == (OBS_DIM,) and live.dtype == np.float32
    np.testing.assert_allclose(live, from_sim, rtol=1e-6)


def test_build_names_missing_figures():
    with pytest.raises(ValueError, match="missing"):
        observation.build(size_mb=1.0)


def test_greedy_baselines_compare_estimated_finishes(key, steady):
    ctx = sim.context(sim.reset(key, steady), steady)
    near = ctx._replace(edge_finish_s=jnp.float32(1.0), cloud_finish_s=jnp.float32(2))
    far = ctx._replace(edge_finish_s=jnp.float32(3.0), cloud_finish_s=jnp.float32(2))
    assert int(tier_baselines.greedy(near, steady, key)) == sim.EDGE
    assert int(tier_baselines.greedy(far, steady, key)) == sim.CLOUD
    # Cheaper edge wins under greedy-cost when the cloud's cost tips the balance.
    close = far._replace(cloud_cost=jnp.float32(1.5))
    assert int(tier_baselines.greedy_cost(close, steady, key)) == sim.EDGE


def test_prototype_rule_reads_only_the_task_size(key, steady):
    ctx = sim.context(sim.reset(key, steady), steady)
    busy = ctx._replace(
        edge_min_backlog_s=jnp.float32(100.0), edge_finish_s=jnp.float32(100.0)
    )
    for size in (0.01, 0.5, 5.0, 50.0):
        a = tier_baselines.prototype(ctx._replace(size_mb=size), steady, key)
        b = tier_baselines.prototype(busy._replace(size_mb=size), steady, key)
        assert int(a) == int(b)
    small = tier_baselines.prototype(ctx._replace(size_mb=0.01), steady, key)
    large = tier_baselines.prototype(ctx._replace(size_mb=50.0), steady, key)
    assert (int(small), int(large)) == (sim.EDGE, sim.CLOUD)


def test_every_scenario_builds_params_of_one_shape():
    shapes = {
        name: jax.tree.map(jnp.shape, s.params())
        for name, s in scenarios.SCENARIOS.items()
    }
    assert len({str(v) for v in shapes.values()}) == 1
    with pytest.raises(ValueError, match="unknown scenario"):
        scenarios.get("nope")
