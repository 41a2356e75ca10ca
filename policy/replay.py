"""A replay buffer as fixed-size arrays: a ring written a batch at a time."""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Transition(NamedTuple):
    """One step (or a batch of them, with leading axes)."""

    obs: jax.Array  # (..., obs_dim)
    action: jax.Array  # (...,)
    reward: jax.Array  # (...,)
    next_obs: jax.Array  # (..., obs_dim)
    done: jax.Array  # (...,) 1.0 where the episode ended
    weight: jax.Array  # (...,) 0.0 for padding


class Buffer(NamedTuple):
    """The stored transitions, the next row to write and how many are filled."""

    data: Transition  # each leaf (capacity, ...)
    pos: jax.Array
    size: jax.Array


def init(capacity: int, obs_dim: int) -> Buffer:
    """An empty buffer of `capacity` rows."""
    data = Transition(
        obs=jnp.zeros((capacity, obs_dim), jnp.float32),
        action=jnp.zeros(capacity, jnp.int32),
        reward=jnp.zeros(capacity, jnp.float32),
        next_obs=jnp.zeros((capacity, obs_dim), jnp.float32),
        done=jnp.zeros(capacity, jnp.float32),
        weight=jnp.zeros(capacity, jnp.float32),
    )
    return Buffer(data, jnp.int32(0), jnp.int32(0))


def add(buffer: Buffer, batch: Transition) -> Buffer:
    """Write a batch of rows at the ring position (capacity % rows must be 0)."""
    capacity = buffer.data.reward.shape[0]
    rows = batch.reward.shape[0]
    assert capacity % rows == 0, "buffer capacity must be a multiple of the batch"
    data = jax.tree.map(
        lambda store, new: jax.lax.dynamic_update_slice_in_dim(
            store, new.astype(store.dtype), buffer.pos, axis=0
        ),
        buffer.data,
        batch,
    )
    pos = (buffer.pos + rows) % capacity
    return Buffer(data, pos, jnp.minimum(buffer.size + rows, capacity))


def sample(buffer: Buffer, key: jax.Array, batch_size: int) -> Transition:
    """Draw `batch_size` filled rows uniformly, with replacement."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda leaf: leaf[idx], buffer.data)
