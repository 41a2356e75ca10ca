"""Tier-decision baselines: edge (0) or cloud (1) for each task.

Each baseline is a pure function `(ctx, params, key) -> action` over one
simulator `Context`, vmapped by the evaluator. None sees the truth: the greedy
rules read the same estimates the DQN sees.

- `all-edge`, `all-cloud`: always that tier;
- `random`: a fair coin;
- `greedy`: earliest estimated finish (what the live coordinator does today);
- `greedy-cost`: lowest estimated finish plus weighted cloud cost, i.e. the
  greedy rule scored on the same objective as the reward (a stronger bar);
- `prototype`: the prototype's rule. Its DQN saw only the task size and two
  fixed powers (the fastest edge node's and a cloud worker's nominal speed):
  it estimates work as size times one fixed rate, adds the nominal cloud
  transfer, and picks the tier that finishes sooner, ignoring every queue,
  every live measurement and the cloud's price.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from policy.sim import CLOUD, EDGE, Context, EnvParams

Baseline = Callable[[Context, EnvParams, jax.Array], jax.Array]


def all_edge(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """Always the edge."""
    return jnp.int32(EDGE)


def all_cloud(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """Always the cloud."""
    return jnp.int32(CLOUD)


def random_tier(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """Edge or cloud with equal chance."""
    return jax.random.bernoulli(key).astype(jnp.int32)


def greedy(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """The tier with the earliest estimated finish."""
    return jnp.where(ctx.edge_finish_s <= ctx.cloud_finish_s, EDGE, CLOUD)


def greedy_cost(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """The tier with the lowest estimated finish plus weighted cloud cost."""
    cloud = ctx.cloud_finish_s + ctx.cloud_cost
    return jnp.where(ctx.edge_finish_s <= cloud, EDGE, CLOUD)


def prototype(ctx: Context, p: EnvParams, key: jax.Array) -> jax.Array:
    """The prototype's rule: task size and two fixed powers, nothing live."""
    work_s = ctx.size_mb * p.proto_s_per_mb
    edge_power = jnp.where(p.edge_present > 0, p.edge_speed, 0.0).max()
    edge_s = work_s / edge_power
    cloud_compute_s = work_s / p.cloud_speed
    cloud_s = p.cloud_rtt_s + 2 * ctx.size_mb / p.cloud_bw_mbps + cloud_compute_s
    return jnp.where(edge_s <= cloud_s, EDGE, CLOUD)


BASELINES: dict[str, Baseline] = {
    "all-edge": all_edge,
    "all-cloud": all_cloud,
    "random": random_tier,
    "greedy": greedy,
    "greedy-cost": greedy_cost,
    "prototype": prototype,
}
