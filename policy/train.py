"""Training the DQN in the simulator, and evaluating policies on it.

The whole training run is one `jit`: a `lax.scan` over vectorized steps, each
acting epsilon-greedily in `n_envs` environments (`vmap`), writing the
transitions to the replay ring, sampling a minibatch and taking
`updates_per_step` gradient steps (skipped through `lax.cond` until
`learning_starts`). One policy is trained per scenario; the scenario's
parameters are arrays, so all scenarios share one compiled trainer.

Evaluation runs a policy greedily over the same keys for every policy, so all
of them see the same tasks, arrivals, drifts and failures. It reports mean
and p95 latency, mean cloud cost and the combined objective (mean of
latency + cost_weight * cost, i.e. -reward * reward_scale_s), on which "better
by 5 %" is judged.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from policy import dqn, replay, sim
from policy.dqn import DQNConfig, TrainState
from policy.observation import OBS_DIM, from_context
from policy.scenarios import Scenario
from policy.tier_baselines import BASELINES


class Runner(NamedTuple):
    """The scan carry of training."""

    train_state: TrainState
    buffer: replay.Buffer
    env_state: sim.EnvState  # leaves (n_envs, ...)
    obs: jax.Array  # (n_envs, OBS_DIM)
    key: jax.Array
    iteration: jax.Array


class TrainMetrics(NamedTuple):
    """Per vectorized step: what the environments and the learner did."""

    reward: jax.Array
    objective_s: jax.Array
    cloud_share: jax.Array
    epsilon: jax.Array
    loss: jax.Array
    q_mean: jax.Array


def _observe(env_state: sim.EnvState, p: sim.EnvParams) -> jax.Array:
    ctx = jax.vmap(sim.context, in_axes=(0, None))(env_state, p)
    return from_context(ctx)  # (n_envs, OBS_DIM)


def epsilon(config: DQNConfig, env_steps: jax.Array) -> jax.Array:
    """The linear exploration schedule."""
    decay_steps = max(config.eps_fraction * config.steps, 1.0)
    frac = jnp.clip(env_steps / decay_steps, 0.0, 1.0)
    return config.eps_start + frac * (config.eps_end - config.eps_start)


def _iteration(
    runner: Runner, _: None, config: DQNConfig, p: sim.EnvParams
) -> tuple[Runner, TrainMetrics]:
    key, k_act, k_env, k_learn = jax.random.split(runner.key, 4)
    env_steps = runner.iteration * config.n_envs
    eps = epsilon(config, env_steps)

    # ACT in every environment.
    mask = jnp.ones(config.n_envs, bool)
    actions, _ = dqn._act(runner.train_state.params, runner.obs, mask, k_act, eps)
    env_keys = jax.random.split(k_env, config.n_envs)
    step = jax.vmap(sim.step, in_axes=(0, 0, 0, None))
    env_state, reward, done, outcome = step(runner.env_state, actions, env_keys, p)
    next_obs = _observe(env_state, p)  # (n_envs, OBS_DIM)

    # STORE.
    transitions = replay.Transition(
        obs=runner.obs,
        action=actions,
        reward=reward,
        next_obs=next_obs,
        done=done.astype(jnp.float32),
        weight=jnp.ones(config.n_envs),
    )
    buffer = replay.add(runner.buffer, transitions)

    # LEARN: identical shapes from both branches.
    can_learn = env_steps + config.n_envs >= config.learning_starts

    def learn(state: TrainState, k: jax.Array) -> tuple[TrainState, dqn.UpdateMetrics]:
        batch = replay.sample(buffer, k, config.batch_size)
        return dqn._update(state, batch, config)

    def skip(state: TrainState, k: jax.Array) -> tuple[TrainState, dqn.UpdateMetrics]:
        return state, dqn.UpdateMetrics(jnp.float32(0.0), jnp.float32(0.0))

    def one_update(
        state: TrainState, k: jax.Array
    ) -> tuple[TrainState, dqn.UpdateMetrics]:
        return jax.lax.cond(can_learn, learn, skip, state, k)

    learn_keys = jax.random.split(k_learn, config.updates_per_step)
    train_state, update_metrics = jax.lax.scan(
        one_update, runner.train_state, learn_keys
    )

    metrics = TrainMetrics(
        reward=reward.mean(),
        objective_s=outcome.objective_s.mean(),
        cloud_share=outcome.tier.mean(),
        epsilon=eps,
        loss=update_metrics.loss.mean(),
        q_mean=update_metrics.q_mean.mean(),
    )
    runner = Runner(train_state, buffer, env_state, next_obs, key, runner.iteration + 1)
    return runner, metrics


@partial(jax.jit, static_argnames="config")
def _train(
    config: DQNConfig, p: sim.EnvParams, key: jax.Array
) -> tuple[TrainState, TrainMetrics]:
    k_init, k_env, k_run = jax.random.split(key, 3)
    train_state = dqn.init_train_state(k_init, config)
    env_state = jax.vmap(sim.reset, in_axes=(0, None))(
        jax.random.split(k_env, config.n_envs), p
    )
    runner = Runner(
        train_state=train_state,
        buffer=replay.init(config.buffer_size, OBS_DIM),
        env_state=env_state,
        obs=_observe(env_state, p),
        key=k_run,
        iteration=jnp.int32(0),
    )
    iterations = config.steps // config.n_envs
    body = partial(_iteration, config=config, p=p)
    runner, metrics = jax.lax.scan(body, runner, None, length=iterations)
    return runner.train_state, metrics


def train(
    config: DQNConfig, scenario: Scenario, key: jax.Array
) -> tuple[TrainState, TrainMetrics]:
    """Train a DQN on one scenario; metrics have one row per vectorized step."""
    if config.buffer_size % config.n_envs:
        raise ValueError("buffer_size must be a multiple of n_envs")
    if config.steps < config.n_envs:
        raise ValueError("steps must be at least n_envs")
    return _train(config, scenario.params(), key)


# --- evaluation ------------------------------------------------------------


POLICIES = (*BASELINES, "dqn")
"""Every policy `rollout` knows, by index."""


@partial(jax.jit, static_argnames=("n_envs", "n_steps"))
def _rollout(
    policy_index: jax.Array,
    params: list[dict[str, jax.Array]],
    p: sim.EnvParams,
    key: jax.Array,
    n_envs: int,
    n_steps: int,
) -> sim.Outcome:
    k_env, k_run = jax.random.split(key)
    env_state = jax.vmap(sim.reset, in_axes=(0, None))(
        jax.random.split(k_env, n_envs), p
    )

    def body(
        carry: tuple[sim.EnvState, jax.Array], _: None
    ) -> tuple[tuple[sim.EnvState, jax.Array], sim.Outcome]:
        state, k = carry
        k, k_env_step, k_policy = jax.random.split(k, 3)
        ctx = jax.vmap(sim.context, in_axes=(0, None))(state, p)
        policy_keys = jax.random.split(k_policy, n_envs)
        # Every policy decides (cheap), so one compiled rollout serves them all.
        choices = [
            jax.vmap(rule, in_axes=(0, None, 0))(ctx, p, policy_keys)
            for rule in BASELINES.values()
        ]
        choices.append(dqn.q_values(params, from_context(ctx)).argmax(axis=1))
        stacked = jnp.stack(
            [jnp.broadcast_to(c, (n_envs,)).astype(jnp.int32) for c in choices]
        )  # (n_policies, n_envs)
        actions = stacked[policy_index]  # (n_envs,)
        env_keys = jax.random.split(k_env_step, n_envs)
        step = jax.vmap(sim.step, in_axes=(0, 0, 0, None))
        state, _, _, outcome = step(state, actions, env_keys, p)
        return (state, k), outcome

    _, outcomes = jax.lax.scan(body, (env_state, k_run), None, length=n_steps)
    return outcomes


def rollout(
    policy: str,
    params: list[dict[str, jax.Array]],
    p: sim.EnvParams,
    key: jax.Array,
    n_envs: int,
    n_steps: int,
) -> sim.Outcome:
    """Run a policy ("dqn" or a baseline name) greedily; outcomes (steps, envs)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    index = jnp.int32(POLICIES.index(policy))
    return _rollout(index, params, p, key, n_envs, n_steps)


def summarize(outcomes: sim.Outcome) -> dict[str, float]:
    """Mean and p95 latency, mean cloud cost, objective and cloud share."""
    latency = np.asarray(outcomes.latency_s, np.float64)
    return {
        "mean_latency_s": float(latency.mean()),
        "p95_latency_s": float(np.percentile(latency, 95)),
        "mean_cost": float(np.asarray(outcomes.cost, np.float64).mean()),
        "objective_s": float(np.asarray(outcomes.objective_s, np.float64).mean()),
        "cloud_share": float(np.asarray(outcomes.tier, np.float64).mean()),
    }


def evaluate(
    scenario: Scenario,
    params: list[dict[str, jax.Array]] | None,
    key: jax.Array,
    n_envs: int = 64,
    n_steps: int = 2048,
) -> dict[str, dict[str, float]]:
    """Every baseline (and the DQN when `params` is given) on the same seeds."""
    p = scenario.params()
    names = list(BASELINES) + (["dqn"] if params is not None else [])
    if params is None:
        # Any parameters of the default shape keep the compiled rollout shared.
        params = dqn.init_params(jax.random.key(0), DQNConfig())
    table = {}
    for name in names:
        outcomes = rollout(name, params, p, key, n_envs, n_steps)
        table[name] = summarize(outcomes)
    return table
