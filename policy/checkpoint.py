"""DQN checkpoints as msgpack: parameters, optimizer state, config, version.

Every array is stored as raw bytes with its dtype and shape, so a round trip
is bit for bit. The pytree structure is not stored: loading rebuilds a fresh
train state from the stored config and fills its leaves in order, checking
each leaf's dtype and shape.
"""

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import msgpack
import numpy as np

from policy.dqn import DQNConfig, TrainState, init_train_state

VERSION = 1
"""Bumped when the layout or the observation changes incompatibly."""


def _pack_array(leaf: Any) -> dict[str, Any]:
    array = np.asarray(leaf)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": array.tobytes(),
    }


def _unpack_array(packed: dict[str, Any]) -> np.ndarray:
    array = np.frombuffer(packed["data"], dtype=np.dtype(packed["dtype"]))
    return array.reshape(packed["shape"]).copy()


def to_bytes(state: TrainState, config: DQNConfig, meta: dict | None = None) -> bytes:
    """The checkpoint as msgpack bytes; `meta` holds extra plain fields."""
    leaves = jax.tree.leaves(state)
    body = {
        "version": VERSION,
        "config": dataclasses.asdict(config),
        "meta": meta or {},
        "leaves": [_pack_array(leaf) for leaf in leaves],
    }
    return msgpack.packb(body, use_bin_type=True)


def from_bytes(data: bytes) -> tuple[TrainState, DQNConfig, dict]:
    """Rebuild (train state, config, meta) from checkpoint bytes."""
    body = msgpack.unpackb(data, raw=False)
    if body.get("version") != VERSION:
        raise ValueError(
            f"checkpoint version {body.get('version')!r}, expected {VERSION}"
        )
    config = DQNConfig(**body["config"])
    # Only the shapes of a fresh state are needed: eval_shape traces the
    # initialisation without running it, so restoring compiles nothing.
    template = jax.eval_shape(lambda: init_train_state(jax.random.key(0), config))
    leaves, treedef = jax.tree.flatten(template)
    stored = body["leaves"]
    if len(stored) != len(leaves):
        raise ValueError(f"checkpoint has {len(stored)} arrays, expected {len(leaves)}")
    restored = []
    for i, (packed, leaf) in enumerate(zip(stored, leaves, strict=True)):
        array = _unpack_array(packed)
        if array.dtype != leaf.dtype or array.shape != tuple(leaf.shape):
            raise ValueError(
                f"checkpoint array {i} is {array.dtype}{array.shape}, "
                f"expected {leaf.dtype}{tuple(leaf.shape)}"
            )
        restored.append(jnp.asarray(array))
    return jax.tree.unflatten(treedef, restored), config, body["meta"]


def save(
    path: str | Path, state: TrainState, config: DQNConfig, meta: dict | None = None
) -> None:
    """Write a checkpoint file."""
    Path(path).write_bytes(to_bytes(state, config, meta))


def load(path: str | Path) -> tuple[TrainState, DQNConfig, dict]:
    """Read a checkpoint file: (train state, config, meta)."""
    return from_bytes(Path(path).read_bytes())
