"""The DQN's observation: a fixed-width float32 vector from live figures.

The same encoding serves the simulator (`from_context`, jax arrays) and the
live coordinator (`build`, plain numbers or numpy arrays in, numpy out), so a
policy trained in the simulator reads live figures the same way. All scales
are in `SCALES`; times are in seconds, sizes in MB, bandwidths in MB/s.

Features, in order: log task size, log estimated work, edge min and mean
backlog, live edge count, mean reported edge speed, cloud backlog and speed,
log bandwidth and RTT to edge and cloud, recent arrival rate, per-tier
observed-minus-predicted latency and the same for the edge rule's
node, estimated finish on the edge rule's node
and in the cloud, weighted cloud cost, heartbeat age of the edge rule's node
and the oldest heartbeat among live edge nodes, and the estimated edge minus
cloud objective (the greedy rule's margin).
"""

from typing import Any

import jax.numpy as jnp
import numpy as np

from policy.sim import EDGE_SLOTS, Context

SCALES = {
    "backlog_s": 4.0,
    "speed": 2.0,
    "rtt_s": 0.1,
    "rate": 10.0,
    "err_s": 2.0,
    "finish_s": 4.0,
    "age_s": 5.0,
    "finish_cap_s": 60.0,
}
"""Divisors that bring each feature to roughly unit range."""

OBS_DIM = 22


def _encode(c: Any, xp: Any) -> Any:
    """Normalize a Context-like record with numpy or jax.numpy as `xp`."""
    cap = SCALES["finish_cap_s"]
    edge_finish = xp.minimum(c.edge_finish_s, cap)
    cloud_finish = xp.minimum(c.cloud_finish_s, cap)
    margin = edge_finish - (cloud_finish + c.cloud_cost)
    features = [
        xp.log1p(c.size_mb),
        xp.log1p(c.work_est_s),
        xp.minimum(c.edge_min_backlog_s, cap) / SCALES["backlog_s"],
        c.edge_mean_backlog_s / SCALES["backlog_s"],
        c.edge_live / EDGE_SLOTS,
        c.edge_speed / SCALES["speed"],
        c.cloud_backlog_s / SCALES["backlog_s"],
        c.cloud_speed / SCALES["speed"],
        xp.log1p(c.edge_bw_mbps) / 5.0,
        c.edge_rtt_s / SCALES["rtt_s"],
        xp.log1p(c.cloud_bw_mbps) / 5.0,
        c.cloud_rtt_s / SCALES["rtt_s"],
        c.arrival_rate / SCALES["rate"],
        c.edge_err_s / SCALES["err_s"],
        c.cloud_err_s / SCALES["err_s"],
        c.pick_err_s / SCALES["err_s"],
        edge_finish / SCALES["finish_s"],
        cloud_finish / SCALES["finish_s"],
        c.cloud_cost / SCALES["finish_s"],
        xp.minimum(c.pick_hb_age_s, 3 * SCALES["age_s"]) / SCALES["age_s"],
        xp.minimum(c.max_hb_age_s, 3 * SCALES["age_s"]) / SCALES["age_s"],
        xp.clip(margin / SCALES["finish_s"], -5.0, 5.0),
    ]
    return xp.stack([xp.asarray(f, dtype=xp.float32) for f in features], axis=-1)


def from_context(ctx: Context) -> Any:
    """The observation for a simulator Context (jax arrays, any batch shape)."""
    return _encode(ctx, jnp)


def build(**figures: float | np.ndarray) -> np.ndarray:
    """The observation from live figures named as the `Context` fields.

    Scalars give a vector of OBS_DIM; arrays of one shape give (..., OBS_DIM).
    """
    missing = set(Context._fields) - set(figures)
    unknown = set(figures) - set(Context._fields)
    if missing or unknown:
        raise ValueError(
            f"observation figures: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    ctx = Context(**{k: np.asarray(v, np.float32) for k, v in figures.items()})
    return _encode(ctx, np)
