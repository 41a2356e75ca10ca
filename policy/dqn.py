"""Double DQN in JAX: network, train state, jitted update, action selection.

The Q-network is an MLP whose parameters are a plain pytree (a list of
`{"w", "b"}` dicts). Targets use Double DQN: the online network picks the
next action, a Polyak-averaged target network scores it. The loss is the
Huber TD error weighted per row, so padded rows (weight 0) change nothing;
`update` is what the coordinator calls with real completions, and what
`policy.train` calls inside `lax.scan`.

Decision batches are padded to a bucket size (`BUCKETS`) with a mask, so
each bucket compiles once.
"""

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from policy.observation import OBS_DIM
from policy.replay import Transition
from policy.sim import N_ACTIONS

BUCKETS = (8, 16, 32, 64, 128, 256)
"""Padded decision batch sizes."""


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of the DQN and of its training in the simulator."""

    steps: int = 2_000_000
    """Environment steps in total, over all vectorized environments."""
    n_envs: int = 256
    """Environments stepped together (one vectorized step)."""
    hidden: int = 64
    """Units per hidden layer."""
    layers: int = 2
    """Hidden layers."""
    learning_rate: float = 1e-3
    """Adam step size."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    gamma: float = 0.8
    """Discount per task decision."""
    tau: float = 0.01
    """Polyak weight of the online network in each target update."""
    batch_size: int = 256
    """Transitions per gradient update."""
    updates_per_step: int = 1
    """Gradient updates per vectorized environment step."""
    buffer_size: int = 131_072
    """Replay capacity in transitions (a multiple of n_envs)."""
    learning_starts: int = 20_000
    """Environment steps before the first update."""
    eps_start: float = 1.0
    """Exploration rate at the start."""
    eps_end: float = 0.02
    """Exploration rate after the decay."""
    eps_fraction: float = 0.3
    """Share of training over which epsilon decays linearly."""
    seed: int = 0
    """PRNG seed of the run."""


# --- network ---------------------------------------------------------------


def init_params(key: jax.Array, config: DQNConfig) -> list[dict[str, jax.Array]]:
    """Fresh MLP parameters (LeCun-normal weights, zero biases)."""
    sizes = [OBS_DIM] + [config.hidden] * config.layers + [N_ACTIONS]
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        w = jax.random.normal(k, (n_in, n_out)) / jnp.sqrt(n_in)  # (n_in, n_out)
        params.append({"w": w, "b": jnp.zeros(n_out)})
    return params


def q_values(params: list[dict[str, jax.Array]], obs: jax.Array) -> jax.Array:
    """Q-values for a batch of observations: (batch, OBS_DIM) -> (batch, 2)."""
    x = obs  # (batch, OBS_DIM)
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])  # (batch, hidden)
    return x @ params[-1]["w"] + params[-1]["b"]  # (batch, n_actions)


# --- train state -----------------------------------------------------------


class TrainState(NamedTuple):
    """Online and target parameters, optimizer state and update count."""

    params: list[dict[str, jax.Array]]
    target_params: list[dict[str, jax.Array]]
    opt_state: optax.OptState
    updates: jax.Array


def optimizer(config: DQNConfig) -> optax.GradientTransformation:
    """Adam with global-norm clipping."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(config.learning_rate),
    )


def init_train_state(key: jax.Array, config: DQNConfig) -> TrainState:
    """A train state with fresh parameters and a matching target network."""
    params = init_params(key, config)
    opt_state = optimizer(config).init(params)
    return TrainState(params, params, opt_state, jnp.int32(0))


# --- jitted update ---------------------------------------------------------


class UpdateMetrics(NamedTuple):
    """What one update did."""

    loss: jax.Array
    q_mean: jax.Array


def td_loss(
    params: list[dict[str, jax.Array]],
    target_params: list[dict[str, jax.Array]],
    batch: Transition,
    gamma: float,
) -> tuple[jax.Array, jax.Array]:
    """Weighted Huber loss of the Double DQN target; also the mean Q taken."""
    q = q_values(params, batch.obs)  # (batch, n_actions)
    q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]  # (batch,)
    next_online = q_values(params, batch.next_obs)  # (batch, n_actions)
    next_action = jnp.argmax(next_online, axis=1)  # (batch,)
    next_target = q_values(target_params, batch.next_obs)  # (batch, n_actions)
    next_q = jnp.take_along_axis(next_target, next_action[:, None], axis=1)[:, 0]
    target = batch.reward + gamma * (1.0 - batch.done) * next_q  # (batch,)
    td = q_taken - jax.lax.stop_gradient(target)  # (batch,)
    per_row = optax.huber_loss(td)  # (batch,)
    total = jnp.maximum(batch.weight.sum(), 1.0)
    loss = (per_row * batch.weight).sum() / total
    return loss, (q_taken * batch.weight).sum() / total


def _update(
    state: TrainState, batch: Transition, config: DQNConfig
) -> tuple[TrainState, UpdateMetrics]:
    grad_fn = jax.value_and_grad(td_loss, has_aux=True)
    (loss, q_mean), grads = grad_fn(
        state.params, state.target_params, batch, config.gamma
    )
    updates, opt_state = optimizer(config).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    target = optax.incremental_update(params, state.target_params, config.tau)
    new_state = TrainState(params, target, opt_state, state.updates + 1)
    return new_state, UpdateMetrics(loss, q_mean)


update = jax.jit(_update, static_argnames="config")
"""One gradient step on a batch of transitions (rows with weight 0 are padding)."""


def _update_many(
    state: TrainState, batches: Transition, config: DQNConfig
) -> tuple[TrainState, UpdateMetrics]:
    def one(s: TrainState, batch: Transition) -> tuple[TrainState, UpdateMetrics]:
        return _update(s, batch, config)

    return jax.lax.scan(one, state, batches)


update_many = jax.jit(_update_many, static_argnames="config")
"""Gradient steps on stacked batches (leading axis: one batch per step), in one
call: the coordinator's online rounds pay one dispatch, not one per step."""


# --- action selection ------------------------------------------------------


def _act(
    params: list[dict[str, jax.Array]],
    obs: jax.Array,
    mask: jax.Array,
    key: jax.Array,
    epsilon: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    q = q_values(params, obs)  # (batch, n_actions)
    k_explore, k_action = jax.random.split(key)
    explore = jax.random.uniform(k_explore, mask.shape) < epsilon  # (batch,)
    random_action = jax.random.randint(k_action, mask.shape, 0, N_ACTIONS)
    action = jnp.where(explore, random_action, jnp.argmax(q, axis=1))  # (batch,)
    return jnp.where(mask, action, 0), q


act = jax.jit(_act)
"""Epsilon-greedy actions and Q-values for a padded batch (padding gets 0)."""


@jax.jit
def greedy_actions(params: list[dict[str, jax.Array]], obs: jax.Array) -> jax.Array:
    """The highest-Q action per observation."""
    return jnp.argmax(q_values(params, obs), axis=-1)  # (batch,)


def pad_to_bucket(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad (n, OBS_DIM) observations to the next bucket; returns (obs, mask)."""
    n = obs.shape[0]
    size = next((b for b in BUCKETS if b >= n), None)
    if size is None:
        raise ValueError(f"batch of {n} tasks exceeds the largest bucket {BUCKETS[-1]}")
    padded = np.zeros((size, OBS_DIM), np.float32)
    padded[:n] = obs
    mask = np.zeros(size, bool)
    mask[:n] = True
    return padded, mask
