"""A vectorized JAX simulator of the edge/cloud offloading problem.

One environment step is one task arriving. The agent answers edge (0) or
cloud (1); within the edge the node is chosen by earliest estimated finish
(the fast proxy of the live PSO), using the coordinator's estimates, not the
truth. Everything is a pure function over `EnvState`, so `vmap` runs many
environments and `lax.scan` runs many steps inside one `jit`.

The queueing model follows `policy.types.NodeView`: a task's latency is
transfer (round trip plus input and output over the link) + queue wait (the
chosen server's backlog in seconds) + compute (true work / true speed). Each
edge node has one compute slot; the cloud pool has `CLOUD_WORKERS` slots
sharing one queue (a task goes to the slot free first). Cloud compute costs
`price_per_cpu_s` per CPU-second; the reward is
`-(latency_s + cost_weight * cost) / reward_scale_s`.

What the policy sees is what the live coordinator would know:
- backlogs as the load view computes them (heartbeat backlog, minus time
  elapsed, plus work dispatched since). A node that died keeps looking idle
  until its heartbeat expires (`expiry_s`); jobs sent to it in that window
  wait for the expiry and are then re-planned to the cloud;
- edge speeds as the nodes' heartbeats report them: calibrated at start-up,
  so a node that slows down (`drift`) keeps reporting its old speed;
- bandwidth and round-trip time per tier, and the error between observed
  and predicted latency per tier and per edge node, as moving averages of
  what completed tasks revealed. A completion is revealed only at its
  finish time (a ring of `PENDING` outstanding completions), and only for
  the tier it ran on, so the estimates lag reality;
- the recent arrival rate (moving average of inter-arrival gaps) and each
  node's heartbeat age.

Simplifications (see the module docstrings of `policy.scenarios` too): the
work estimate is the true work times log-normal noise (the cost model's
per-operation average), jobs queued on a node when it dies are not re-run,
and transfer and queueing add rather than overlap, as in `NodeView`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

EDGE_SLOTS = 4
"""Edge nodes per environment (absent ones are masked by `edge_present`)."""
CLOUD_WORKERS = 8
"""Compute slots in the cloud pool."""
PENDING = 32
"""Completions in flight whose measurements are not yet revealed."""
EDGE, CLOUD = 0, 1
N_ACTIONS = 2


class EnvParams(NamedTuple):
    """One scenario's parameters as arrays (no recompile between scenarios)."""

    edge_speed: jax.Array  # (EDGE_SLOTS,) nominal, as heartbeats report it
    edge_present: jax.Array  # (EDGE_SLOTS,) 1.0 where a node is configured
    cloud_speed: jax.Array
    edge_bw_mbps: jax.Array
    """Megabytes per second to the edge."""
    edge_rtt_s: jax.Array
    cloud_bw_mbps: jax.Array
    cloud_rtt_s: jax.Array
    price_per_cpu_s: jax.Array
    cost_weight: jax.Array
    """Seconds of latency one unit of cloud cost is worth."""
    reward_scale_s: jax.Array
    rate_low: jax.Array
    """Arrivals per second in the calm phase."""
    rate_high: jax.Array
    """Arrivals per second in a burst."""
    p_burst_start: jax.Array
    """Chance per arrival of a calm phase turning into a burst."""
    p_burst_end: jax.Array
    video_fraction: jax.Array
    image_mp_median: jax.Array
    image_mp_sigma: jax.Array
    image_s_per_mp: jax.Array
    image_mb_per_mp: jax.Array
    video_frame_mp_median: jax.Array
    """Frames times megapixels per frame of a median clip."""
    video_frame_mp_sigma: jax.Array
    video_s_per_frame_mp: jax.Array
    video_mb_per_frame_mp: jax.Array
    work_noise_sigma: jax.Array
    measure_noise_sigma: jax.Array
    drift_p: jax.Array
    """Chance per arrival that cloud bandwidth and edge speeds change."""
    drift_bw_low: jax.Array
    drift_speed_low: jax.Array
    fail_p: jax.Array
    """Chance per arrival that a live edge node dies."""
    recover_p: jax.Array
    heartbeat_s: jax.Array
    expiry_s: jax.Array
    smoothing: jax.Array
    """Weight of one new measurement in the coordinator's moving averages."""
    proto_s_per_mb: jax.Array
    """The prototype rule's fixed work per MB."""
    episode_len: jax.Array


class Task(NamedTuple):
    """The task waiting for a decision."""

    size_mb: jax.Array
    work_s: jax.Array
    """True reference seconds of work."""
    work_est_s: jax.Array
    """What the cost model predicts."""


class Estimates(NamedTuple):
    """The coordinator's moving averages."""

    edge_bw: jax.Array
    edge_rtt: jax.Array
    cloud_bw: jax.Array
    cloud_rtt: jax.Array
    edge_err: jax.Array
    cloud_err: jax.Array
    node_err: jax.Array  # (EDGE_SLOTS,) per edge node
    gap_s: jax.Array


class Pending(NamedTuple):
    """Completions in flight: revealed to the estimates at `finish_t`."""

    finish_t: jax.Array  # (PENDING,)
    valid: jax.Array  # (PENDING,) bool
    tier: jax.Array  # (PENDING,) int32
    node: jax.Array  # (PENDING,) int32, the edge node
    has_link: jax.Array  # (PENDING,) bool: a transfer was measured
    bw: jax.Array  # (PENDING,)
    rtt: jax.Array  # (PENDING,)
    err: jax.Array  # (PENDING,) observed minus predicted latency
    slot: jax.Array


class EnvState(NamedTuple):
    """Everything one environment remembers."""

    t: jax.Array
    step: jax.Array
    burst: jax.Array
    edge_backlog: jax.Array  # (EDGE_SLOTS,) seconds, as the load view sees it
    edge_alive: jax.Array  # (EDGE_SLOTS,) bool, the truth
    edge_fail_t: jax.Array  # (EDGE_SLOTS,) inf while alive
    edge_factor: jax.Array  # (EDGE_SLOTS,) true speed / reported speed
    hb_phase: jax.Array  # (EDGE_SLOTS,) heartbeat offsets in [0, 1)
    cloud_backlog: jax.Array  # (CLOUD_WORKERS,) seconds
    cloud_factor: jax.Array
    est: Estimates
    pending: Pending
    task: Task


class Context(NamedTuple):
    """Raw live figures for one decision; `policy.observation` normalizes them."""

    size_mb: jax.Array
    work_est_s: jax.Array
    edge_min_backlog_s: jax.Array
    edge_mean_backlog_s: jax.Array
    edge_live: jax.Array
    edge_speed: jax.Array
    cloud_backlog_s: jax.Array
    cloud_speed: jax.Array
    edge_bw_mbps: jax.Array
    edge_rtt_s: jax.Array
    cloud_bw_mbps: jax.Array
    cloud_rtt_s: jax.Array
    arrival_rate: jax.Array
    edge_err_s: jax.Array
    cloud_err_s: jax.Array
    pick_err_s: jax.Array
    """Observed minus predicted latency on the node the edge rule picks."""
    edge_finish_s: jax.Array
    """Estimated finish on the node the edge rule picks."""
    cloud_finish_s: jax.Array
    cloud_cost: jax.Array
    """Estimated cost times cost weight, in seconds."""
    pick_hb_age_s: jax.Array
    max_hb_age_s: jax.Array


class Outcome(NamedTuple):
    """What happened to the task just decided."""

    latency_s: jax.Array
    cost: jax.Array
    tier: jax.Array
    """Where it ran in the end (a job lost on a dead node ends in the cloud)."""
    objective_s: jax.Array
    """latency_s + cost_weight * cost."""


def _draw_task(key: jax.Array, p: EnvParams) -> Task:
    k_kind, k_size, k_noise = jax.random.split(key, 3)
    is_video = jax.random.uniform(k_kind) < p.video_fraction
    z = jax.random.normal(k_size)
    image_mp = p.image_mp_median * jnp.exp(p.image_mp_sigma * z)
    frame_mp = p.video_frame_mp_median * jnp.exp(p.video_frame_mp_sigma * z)
    size_mb = jnp.where(
        is_video, frame_mp * p.video_mb_per_frame_mp, image_mp * p.image_mb_per_mp
    )
    work_s = jnp.where(
        is_video, frame_mp * p.video_s_per_frame_mp, image_mp * p.image_s_per_mp
    )
    noise = jnp.exp(p.work_noise_sigma * jax.random.normal(k_noise))
    return Task(size_mb, work_s, work_s * noise)


def reset(key: jax.Array, p: EnvParams) -> EnvState:
    """A fresh environment: empty queues, estimates at their nominal values."""
    k_phase, k_task = jax.random.split(key)
    est = Estimates(
        p.edge_bw_mbps,
        p.edge_rtt_s,
        p.cloud_bw_mbps,
        p.cloud_rtt_s,
        jnp.float32(0.0),
        jnp.float32(0.0),
        jnp.zeros(EDGE_SLOTS),
        1.0 / p.rate_low,
    )
    pending = Pending(
        jnp.zeros(PENDING),
        jnp.zeros(PENDING, bool),
        jnp.zeros(PENDING, jnp.int32),
        jnp.zeros(PENDING, jnp.int32),
        jnp.zeros(PENDING, bool),
        jnp.zeros(PENDING),
        jnp.zeros(PENDING),
        jnp.zeros(PENDING),
        jnp.int32(0),
    )
    return EnvState(
        t=jnp.float32(0.0),
        step=jnp.int32(0),
        burst=jnp.bool_(False),
        edge_backlog=jnp.zeros(EDGE_SLOTS),
        edge_alive=p.edge_present > 0,
        edge_fail_t=jnp.full(EDGE_SLOTS, jnp.inf),
        edge_factor=jnp.ones(EDGE_SLOTS),
        hb_phase=jax.random.uniform(k_phase, (EDGE_SLOTS,)),
        cloud_backlog=jnp.zeros(CLOUD_WORKERS),
        cloud_factor=jnp.float32(1.0),
        est=est,
        pending=pending,
        task=_draw_task(k_task, p),
    )


def _known(s: EnvState, p: EnvParams) -> jax.Array:
    """Nodes the coordinator believes alive: configured, heartbeat not expired."""
    expired = s.t >= s.edge_fail_t + p.expiry_s
    return (p.edge_present > 0) & ~expired  # (EDGE_SLOTS,)


def _hb_age(s: EnvState, p: EnvParams) -> jax.Array:
    """Seconds since each node's last heartbeat."""
    last_beat_t = jnp.minimum(s.t, s.edge_fail_t)
    phase_s = p.heartbeat_s * s.hb_phase
    since_beat = jnp.mod(last_beat_t + phase_s, p.heartbeat_s)
    return since_beat + (s.t - last_beat_t)  # (EDGE_SLOTS,)


def _edge_pick(s: EnvState, p: EnvParams) -> tuple[jax.Array, jax.Array]:
    """The edge rule's node and its estimated finish (inf when none is live)."""
    known = _known(s, p)
    transfer_s = s.est.edge_rtt + 2 * s.task.size_mb / s.est.edge_bw
    finish = s.edge_backlog + transfer_s + s.task.work_est_s / p.edge_speed
    finish = jnp.where(known, finish, jnp.inf)  # (EDGE_SLOTS,)
    node = jnp.argmin(finish)
    return node, finish[node]


def context(s: EnvState, p: EnvParams) -> Context:
    """The raw figures the coordinator would have for the waiting task."""
    known = _known(s, p)
    n_live = known.sum()
    safe_n = jnp.maximum(n_live, 1)
    node, edge_finish = _edge_pick(s, p)
    ages = _hb_age(s, p)
    cloud_wait = s.cloud_backlog.min()
    cloud_compute = s.task.work_est_s / p.cloud_speed
    cloud_transfer = s.est.cloud_rtt + 2 * s.task.size_mb / s.est.cloud_bw
    return Context(
        size_mb=s.task.size_mb,
        work_est_s=s.task.work_est_s,
        edge_min_backlog_s=jnp.where(known, s.edge_backlog, jnp.inf).min(),
        edge_mean_backlog_s=jnp.where(known, s.edge_backlog, 0.0).sum() / safe_n,
        edge_live=n_live.astype(jnp.float32),
        edge_speed=jnp.where(known, p.edge_speed, 0.0).sum() / safe_n,
        cloud_backlog_s=cloud_wait,
        cloud_speed=p.cloud_speed,
        edge_bw_mbps=s.est.edge_bw,
        edge_rtt_s=s.est.edge_rtt,
        cloud_bw_mbps=s.est.cloud_bw,
        cloud_rtt_s=s.est.cloud_rtt,
        arrival_rate=1.0 / s.est.gap_s,
        edge_err_s=s.est.edge_err,
        cloud_err_s=s.est.cloud_err,
        pick_err_s=jnp.where(n_live > 0, s.est.node_err[node], 0.0),
        edge_finish_s=edge_finish,
        cloud_finish_s=cloud_wait + cloud_transfer + cloud_compute,
        cloud_cost=p.cost_weight * p.price_per_cpu_s * cloud_compute,
        pick_hb_age_s=jnp.where(n_live > 0, ages[node], 0.0),
        max_hb_age_s=jnp.where(known, ages, 0.0).max(),
    )


def _noisy(key: jax.Array, value: jax.Array, p: EnvParams) -> jax.Array:
    return value * jnp.exp(p.measure_noise_sigma * jax.random.normal(key))


def _reveal(s: EnvState, p: EnvParams) -> tuple[Estimates, Pending]:
    """Fold every completion that finished by now into the moving averages."""
    pend, est = s.pending, s.est
    due = pend.valid & (pend.finish_t <= s.t)  # (PENDING,)

    def fold(old: jax.Array, samples: jax.Array, mask: jax.Array) -> jax.Array:
        n = mask.sum()
        mean = jnp.where(mask, samples, 0.0).sum() / jnp.maximum(n, 1)
        weight = 1.0 - (1.0 - p.smoothing) ** n
        return old + weight * (mean - old)

    edge, cloud = due & (pend.tier == EDGE), due & (pend.tier == CLOUD)
    edge_link, cloud_link = edge & pend.has_link, cloud & pend.has_link
    est = Estimates(
        edge_bw=fold(est.edge_bw, pend.bw, edge_link),
        edge_rtt=fold(est.edge_rtt, pend.rtt, edge_link),
        cloud_bw=fold(est.cloud_bw, pend.bw, cloud_link),
        cloud_rtt=fold(est.cloud_rtt, pend.rtt, cloud_link),
        edge_err=fold(est.edge_err, pend.err, edge),
        cloud_err=fold(est.cloud_err, pend.err, cloud),
        node_err=jax.vmap(fold, in_axes=(0, None, 0))(
            est.node_err,
            pend.err,
            edge & (pend.node == jnp.arange(EDGE_SLOTS)[:, None]),
        ),
        gap_s=est.gap_s,
    )
    return est, pend._replace(valid=pend.valid & ~due)


def step(
    s: EnvState, action: jax.Array, key: jax.Array, p: EnvParams
) -> tuple[EnvState, jax.Array, jax.Array, Outcome]:
    """Apply a decision for the waiting task; returns (state, reward, done, outcome).

    The environment resets itself after `episode_len` arrivals. Random draws
    do not depend on the action, so policies compared on the same keys see
    the same tasks, arrivals, drifts and failures.
    """
    keys = jax.random.split(key, 10)
    ctx = context(s, p)
    task = s.task
    node, _ = _edge_pick(s, p)
    known = _known(s, p)
    to_edge = (action == EDGE) & known.any()

    # The cloud outcome, also used for a job lost on a node that died.
    cloud_slot = jnp.argmin(s.cloud_backlog)
    cloud_bw = p.cloud_bw_mbps * s.cloud_factor
    cloud_transfer = p.cloud_rtt_s + 2 * task.size_mb / cloud_bw
    cloud_wait = s.cloud_backlog[cloud_slot]
    cloud_compute = task.work_s / p.cloud_speed
    cloud_latency = cloud_transfer + cloud_wait + cloud_compute

    edge_transfer = p.edge_rtt_s + 2 * task.size_mb / p.edge_bw_mbps
    edge_compute = task.work_s / (p.edge_speed[node] * s.edge_factor[node])
    edge_latency = edge_transfer + s.edge_backlog[node] + edge_compute
    node_dead = ~s.edge_alive[node]
    lost_s = jnp.maximum(s.edge_fail_t[node] + p.expiry_s - s.t, 0.0)
    edge_latency = jnp.where(node_dead, lost_s + cloud_latency, edge_latency)

    uses_cloud = ~to_edge | node_dead
    latency = jnp.where(to_edge, edge_latency, cloud_latency)
    cost = jnp.where(uses_cloud, p.price_per_cpu_s * cloud_compute, 0.0)
    objective = latency + p.cost_weight * cost
    reward = -objective / p.reward_scale_s
    outcome = Outcome(latency, cost, uses_cloud.astype(jnp.int32), objective)

    # Queues: the load view adds the estimated work to the chosen node.
    edge_add = jnp.where(node_dead, task.work_est_s / p.edge_speed[node], edge_compute)
    onehot_node = jax.nn.one_hot(node, EDGE_SLOTS) * to_edge  # (EDGE_SLOTS,)
    edge_backlog = s.edge_backlog + onehot_node * edge_add
    onehot_cloud = jax.nn.one_hot(cloud_slot, CLOUD_WORKERS) * uses_cloud
    cloud_backlog = s.cloud_backlog + onehot_cloud * cloud_compute

    # Remember the completion; its measurements arrive when it finishes.
    predicted = jnp.where(to_edge, ctx.edge_finish_s, ctx.cloud_finish_s)
    link_bw = jnp.where(to_edge, p.edge_bw_mbps, cloud_bw)
    link_rtt = jnp.where(to_edge, p.edge_rtt_s, p.cloud_rtt_s)
    pend = s.pending
    i = pend.slot
    pend = Pending(
        finish_t=pend.finish_t.at[i].set(s.t + latency),
        valid=pend.valid.at[i].set(True),
        tier=pend.tier.at[i].set(jnp.where(to_edge, EDGE, CLOUD)),
        node=pend.node.at[i].set(node),
        has_link=pend.has_link.at[i].set(~(to_edge & node_dead)),
        bw=pend.bw.at[i].set(_noisy(keys[0], link_bw, p)),
        rtt=pend.rtt.at[i].set(_noisy(keys[1], link_rtt, p)),
        err=pend.err.at[i].set(latency - predicted),
        slot=(i + 1) % PENDING,
    )

    # The next arrival.
    rate = jnp.where(s.burst, p.rate_high, p.rate_low)
    gap_s = jax.random.exponential(keys[2]) / rate
    flip = jax.random.uniform(keys[3])
    burst = jnp.where(s.burst, flip >= p.p_burst_end, flip < p.p_burst_start)
    t = s.t + gap_s
    gap_est = s.est.gap_s + 0.05 * (gap_s - s.est.gap_s)

    # Drift: the link to the cloud and the edge nodes' true speeds change.
    drifts = jax.random.uniform(keys[4]) < p.drift_p
    k_bw, k_speed = jax.random.split(keys[5])
    new_cloud = jax.random.uniform(k_bw, minval=p.drift_bw_low, maxval=1.0)
    new_edge = jax.random.uniform(
        k_speed, (EDGE_SLOTS,), minval=p.drift_speed_low, maxval=1.0
    )
    cloud_factor = jnp.where(drifts, new_cloud, s.cloud_factor)
    edge_factor = jnp.where(drifts, new_edge, s.edge_factor)

    # Failures and recoveries (a recovered node comes back idle).
    fails = jax.random.uniform(keys[6], (EDGE_SLOTS,)) < p.fail_p
    # Keep at least one node: a node fails only while another one is alive.
    others_alive = (s.edge_alive.sum() - s.edge_alive) > 0
    fails = fails & s.edge_alive & others_alive
    detected = ~s.edge_alive & (t >= s.edge_fail_t + p.expiry_s)
    recovers = detected & (jax.random.uniform(keys[7], (EDGE_SLOTS,)) < p.recover_p)
    edge_alive = (s.edge_alive & ~fails) | recovers
    edge_fail_t = jnp.where(fails, t, jnp.where(recovers, jnp.inf, s.edge_fail_t))
    edge_backlog = jnp.where(recovers, 0.0, jnp.maximum(edge_backlog - gap_s, 0.0))

    node_err = jnp.where(recovers, 0.0, s.est.node_err)
    moved = s._replace(
        t=t,
        step=s.step + 1,
        burst=burst,
        edge_backlog=edge_backlog,
        edge_alive=edge_alive,
        edge_fail_t=edge_fail_t,
        edge_factor=edge_factor,
        cloud_backlog=jnp.maximum(cloud_backlog - gap_s, 0.0),
        cloud_factor=cloud_factor,
        est=s.est._replace(gap_s=gap_est, node_err=node_err),
        pending=pend,
        task=_draw_task(keys[8], p),
    )
    est, pend = _reveal(moved, p)
    moved = moved._replace(est=est, pending=pend)

    done = moved.step >= p.episode_len
    fresh = reset(keys[9], p)
    state = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, moved)
    return state, reward, done, outcome
