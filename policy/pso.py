"""Particle swarm optimisation of how a batch of tasks is spread over edge nodes.

After Kennedy and Eberhart (1995), "Particle swarm optimization". A particle's
position holds one score per (task, node), and a task goes to the live node
with its highest score. The attractors, each particle's best and the swarm's
best, are kept as assignments and pull as one-hot positions, so a particle
mixes its own best and the swarm's best task by task; a few tasks per
iteration jump to a random node (the paper's "craziness").

The swarm starts from the LPT and greedy assignments and randomly perturbed
copies of them, and the best assignment seen is the answer, so it is never
worse than LPT. PSO alone seldom improves on LPT for a makespan, so the
swarm is memetic: the best seed, and then every iteration the few best
particles, get a short local search that moves a task off the most-loaded
node, or swaps it with a task on another node, whenever that lowers the
most-loaded node's finish without another node reaching it. A polished
assignment replaces the particle's position and, if better, its best.

Shapes are static: tasks and nodes are padded up to buckets
(`policy.assignment`), so one compile serves every batch size in a bucket
(batches with and without transfer times compile apart). A real task costs
+inf on a padded node and a padded task costs nothing anywhere, so padding
never changes the makespan. Everything runs in float32; `assign` checks the
answer against LPT in float64.
"""

import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from policy.assignment import (
    NODE_BUCKETS,
    TASK_BUCKETS,
    PaddedBatch,
    check_batch,
    greedy_earliest_finish,
    lpt,
    node_loads,
    pad_batch,
    planned_finish,
)

logger = logging.getLogger(__name__)

GAIN = 1.0 - 1e-6
"""A makespan counts as better only below GAIN times the old one: float32 sums
taken in another order differ by rounding, and chasing that noise could even
trade LPT for an assignment that is worse in float64."""


@dataclass(frozen=True)
class PsoConfig:
    """Swarm settings; each distinct config compiles its own code."""

    particles: int = 16
    """Swarm size, the unperturbed seed particles included."""
    iterations: int = 16
    """Swarm updates, each followed by a local search."""
    inertia: float = 0.7
    """Share of a particle's velocity kept from one iteration to the next."""
    cognitive: float = 1.5
    """Pull towards the particle's own best assignment."""
    social: float = 1.5
    """Pull towards the swarm's best assignment."""
    max_velocity: float = 0.5
    """Bound on each velocity component; scores of a one-hot seed are 0 or 1."""
    perturbation: float = 0.2
    """Share of tasks a perturbed starting particle sends to a random node."""
    jumps: float = 3.0
    """Tasks per particle and iteration, on average, sent to a random node."""
    seed_search_steps: int = 256
    """Most local-search moves or swaps applied to the best seed at the start."""
    polished: int = 4
    """How many of each iteration's best particles get a local search."""
    local_search_steps: int = 4
    """Most local-search moves or swaps applied to each of those particles."""
    swap_candidates: int = 32
    """Tasks on the most-loaded node tried for moves and swaps, longest first."""

    def __post_init__(self) -> None:
        """Reject settings the compiled code cannot honour, naming the field."""
        at_least = {
            "particles": 1,
            "iterations": 0,
            "seed_search_steps": 0,
            "polished": 1,
            "local_search_steps": 0,
            "swap_candidates": 1,
        }
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise ValueError(f"PsoConfig.{name} must be at least {low}")
        if not 0.0 <= self.perturbation <= 1.0:
            raise ValueError("PsoConfig.perturbation must be between 0 and 1")
        if self.jumps < 0:
            raise ValueError("PsoConfig.jumps must not be negative")
        if self.max_velocity <= 0:
            raise ValueError("PsoConfig.max_velocity must be positive")


class SwarmState(NamedTuple):
    """Everything the swarm carries from one iteration to the next."""

    position: jax.Array  # (P, K, T) scores; a task goes to its top live node
    velocity: jax.Array  # (P, K, T)
    best_assignment: jax.Array  # (P, T) int32, each particle's best so far
    best_makespan: jax.Array  # (P,)
    global_assignment: jax.Array  # (T,) int32, the best the swarm has seen
    global_makespan: jax.Array  # ()
    key: jax.Array


class PsoResult(NamedTuple):
    """An assignment for a batch, with its makespan and the LPT makespan."""

    assignment: np.ndarray
    """Node index per task, in batch order."""
    makespan: float
    """Seconds until the last node finishes under `assignment` (float64)."""
    lpt_makespan: float
    """The same for the LPT assignment the swarm was seeded with."""
    planned_finish_s: np.ndarray
    """Each task's finish when every node runs its tasks in LPT order."""


def cost_matrix(batch: PaddedBatch) -> jax.Array:
    """Seconds each task occupies each node; +inf on padded nodes, 0 if padded."""
    busy = _time_on(
        batch, jnp.arange(batch.work.shape[0]), jnp.arange(batch.speeds.shape[0])
    )  # (T, K)
    busy = jnp.where(batch.node_mask[None, :], busy, jnp.inf)  # (T, K)
    return jnp.where(batch.task_mask[:, None], busy, 0.0)  # (T, K)


@partial(jax.jit, static_argnames="config")
def init(
    key: jax.Array, batch: PaddedBatch, seeds: jax.Array, config: PsoConfig
) -> SwarmState:
    """A swarm of the seed assignments and perturbed copies, seeds evaluated."""
    cost = cost_matrix(batch)  # (T, K)
    n_tasks, n_nodes = cost.shape
    n_seeds = seeds.shape[0]
    shape = (config.particles, n_tasks)
    key, k_flip, k_node = jax.random.split(key, 3)
    start = seeds[jnp.arange(config.particles) % n_seeds]  # (P, T)
    perturbed = (jnp.arange(config.particles) >= n_seeds)[:, None]  # (P, 1)
    flip = perturbed & jax.random.bernoulli(k_flip, config.perturbation, shape)
    live = jnp.sum(batch.node_mask)  # () live nodes come first
    elsewhere = jax.random.randint(k_node, shape, 0, live)  # (P, T)
    start = jnp.where(flip, elsewhere, start).astype(jnp.int32)  # (P, T)
    position = _one_hot(start, n_nodes)  # (P, K, T)
    makespans = jax.vmap(_makespan, (0, None, None))(start, cost, batch.backlogs)
    state = SwarmState(
        position=position,
        velocity=jnp.zeros_like(position),
        best_assignment=start,
        best_makespan=makespans,  # (P,)
        global_assignment=start[0],
        global_makespan=makespans[0],
        key=key,
    )
    return _polish_leaders(
        state, start, makespans, cost, batch, config, 1, config.seed_search_steps
    )


@partial(jax.jit, static_argnames="config")
def run(state: SwarmState, batch: PaddedBatch, config: PsoConfig) -> SwarmState:
    """All of the swarm's iterations in one compiled loop."""
    cost = cost_matrix(batch)  # (T, K)

    def iterate(_, state: SwarmState) -> SwarmState:
        return _iterate(state, cost, batch, config)

    return lax.fori_loop(0, config.iterations, iterate, state)


@partial(jax.jit, static_argnames="config")
def solve(
    key: jax.Array, batch: PaddedBatch, seeds: jax.Array, config: PsoConfig
) -> SwarmState:
    """`init` then `run`, compiled together: one call per batch."""
    return run(init(key, batch, seeds, config), batch, config)


def assign(
    work: np.ndarray,
    speeds: np.ndarray,
    backlogs: np.ndarray,
    transfer_s: np.ndarray | None = None,
    key: jax.Array | None = None,
    config: PsoConfig = PsoConfig(),
) -> PsoResult:
    """Spread tasks over nodes to finish the batch soonest; never worse than LPT."""
    batch = check_batch(work, speeds, backlogs, transfer_s)
    n_tasks = batch.work.size
    padded = pad_batch(batch)
    lpt_assignment = lpt(*batch)
    lpt_makespan = float(node_loads(lpt_assignment, batch).max())
    if n_tasks == 0:
        return PsoResult(lpt_assignment, lpt_makespan, lpt_makespan, np.zeros(0))
    seeds = np.zeros((2, padded.work.size), np.int32)  # (S, T_pad)
    seeds[0, :n_tasks] = lpt_assignment
    seeds[1, :n_tasks] = greedy_earliest_finish(*batch)
    state = solve(jax.random.key(0) if key is None else key, padded, seeds, config)
    assignment = np.asarray(state.global_assignment)[:n_tasks].astype(np.int64)
    best = float(node_loads(assignment, batch).max())
    if best > lpt_makespan:
        # The swarm ranks in float32; a near-tie can come out the other way here.
        assignment, best = lpt_assignment, lpt_makespan
    return PsoResult(assignment, best, lpt_makespan, planned_finish(assignment, batch))


def warm_up(
    config: PsoConfig = PsoConfig(),
    task_buckets: tuple[int, ...] = TASK_BUCKETS[:5],
    node_buckets: tuple[int, ...] = NODE_BUCKETS[:1],
    with_transfer: bool = True,
) -> int:
    """Compile `solve` for these buckets so that first batches run at full speed.

    The defaults cover batches of up to 128 tasks over up to 4 edge nodes with
    transfer times, as the coordinator's cost model gives them; each bucket
    takes a few seconds to compile. Returns how many buckets were compiled.
    """
    started = time.perf_counter()
    for n_tasks in task_buckets:
        for n_nodes in node_buckets:
            transfer = np.full((n_tasks, n_nodes), 0.1 if with_transfer else 0.0)
            batch = check_batch(
                np.ones(n_tasks), np.ones(n_nodes), np.zeros(n_nodes), transfer
            )
            seeds = np.zeros((2, n_tasks), np.int32)
            state = solve(jax.random.key(0), pad_batch(batch), seeds, config)
            state.global_makespan.block_until_ready()
    compiled = len(task_buckets) * len(node_buckets)
    elapsed_s = time.perf_counter() - started
    logger.info("PSO compiled for %d buckets in %.1f s", compiled, elapsed_s)
    return compiled


def _iterate(
    state: SwarmState, cost: jax.Array, batch: PaddedBatch, config: PsoConfig
) -> SwarmState:
    """One swarm update and evaluation, then local search of the best particles."""
    n_particles, n_nodes, n_tasks = state.position.shape
    key, k_draw = jax.random.split(state.key)
    # One draw of 2 x 32 random bits per (particle, task) feeds all four
    # random choices below: one threefry call is far cheaper than four on CPU.
    bits = jax.random.bits(k_draw, (2, n_particles, 1, n_tasks))  # (2, P, 1, T)
    low, high = bits & 0xFFFF, bits >> 16  # (2, P, 1, T) each
    r_own, r_swarm = low[0] / 65536.0, high[0] / 65536.0  # (P, 1, T) in [0, 1)
    own = _one_hot(state.best_assignment, n_nodes)  # (P, K, T)
    swarm = _one_hot(state.global_assignment, n_nodes)  # (K, T)
    velocity = (
        config.inertia * state.velocity
        + config.cognitive * r_own * (own - state.position)
        + config.social * r_swarm * (swarm - state.position)
    )  # (P, K, T)
    velocity = jnp.clip(velocity, -config.max_velocity, config.max_velocity)
    position = state.position + velocity  # (P, K, T)
    # Kennedy and Eberhart's "craziness": a few tasks jump to a random node,
    # which keeps the swarm from collapsing onto its best assignment for good.
    chance = config.jumps / jnp.maximum(jnp.sum(batch.task_mask), 1)  # ()
    crazy = low[1] < chance * 65536.0  # (P, 1, T)
    live = jnp.sum(batch.node_mask)  # () live nodes come first
    jump = _one_hot(high[1, :, 0] % live, n_nodes)  # (P, K, T)
    position = jnp.where(crazy, jump, position)  # (P, K, T)
    assignment = _decode(position, batch.node_mask)  # (P, T)
    makespans = jax.vmap(_makespan, (0, None, None))(assignment, cost, batch.backlogs)
    state = state._replace(position=position, velocity=velocity, key=key)
    return _polish_leaders(
        state,
        assignment,
        makespans,
        cost,
        batch,
        config,
        config.polished,
        config.local_search_steps,
    )


def _one_hot(assignment: jax.Array, n_nodes: int) -> jax.Array:
    """Node-major one-hot scores: (..., T) node indices to (..., K, T)."""
    nodes = jnp.arange(n_nodes)[:, None]  # (K, 1)
    return (assignment[..., None, :] == nodes).astype(jnp.float32)  # (..., K, T)


def _decode(position: jax.Array, node_mask: jax.Array) -> jax.Array:
    """Each task's live node with the highest score, lowest index on a tie."""
    n_nodes = position.shape[-2]
    # Scores are node-major and the argmax is spelled as max-then-min, because
    # XLA on CPU reduces a leading axis several times faster than a trailing one.
    masked = jnp.where(node_mask[:, None], position, -jnp.inf)  # (P, K, T)
    top = jnp.max(masked, axis=-2, keepdims=True)  # (P, 1, T)
    nodes = jnp.arange(n_nodes, dtype=jnp.int32)[:, None]  # (K, 1)
    return jnp.min(jnp.where(masked == top, nodes, n_nodes), axis=-2)  # (P, T)


def _polish_leaders(
    state: SwarmState,
    assignment: jax.Array,
    makespans: jax.Array,
    cost: jax.Array,
    batch: PaddedBatch,
    config: PsoConfig,
    count: int,
    steps: int,
) -> SwarmState:
    """Local-search the best `count` particles, then update the remembered bests."""
    _, leaders = lax.top_k(-makespans, min(count, makespans.size))  # (L,)
    search = partial(_local_search, steps=steps, width=config.swap_candidates)
    polished, polished_makespans = jax.vmap(search, (0, None, None))(
        assignment[leaders], cost, batch
    )  # (L, T), (L,)
    assignment = assignment.at[leaders].set(polished)  # (P, T)
    makespans = makespans.at[leaders].set(polished_makespans)  # (P,)
    n_nodes = cost.shape[1]
    position = state.position.at[leaders].set(_one_hot(polished, n_nodes))
    better = makespans < GAIN * state.best_makespan  # (P,)
    best_assignment = jnp.where(better[:, None], assignment, state.best_assignment)
    best_makespan = jnp.where(better, makespans, state.best_makespan)  # (P,)
    top = jnp.argmin(best_makespan)
    improved = best_makespan[top] < GAIN * state.global_makespan
    return state._replace(
        position=position,
        best_assignment=best_assignment,
        best_makespan=best_makespan,
        global_assignment=jnp.where(
            improved, best_assignment[top], state.global_assignment
        ),
        global_makespan=jnp.where(improved, best_makespan[top], state.global_makespan),
    )


def _loads(assignment: jax.Array, cost: jax.Array, backlogs: jax.Array) -> jax.Array:
    """Each node's finish: its backlog plus the time of the tasks sent to it."""
    own = jnp.take_along_axis(cost, assignment[:, None], axis=1)[:, 0]  # (T,)
    return backlogs + jax.ops.segment_sum(own, assignment, cost.shape[1])  # (K,)


def _makespan(assignment: jax.Array, cost: jax.Array, backlogs: jax.Array) -> jax.Array:
    """The latest node finish; +inf if a real task sits on a padded node."""
    return jnp.max(_loads(assignment, cost, backlogs))


def _local_search(
    assignment: jax.Array, cost: jax.Array, batch: PaddedBatch, steps: int, width: int
) -> tuple[jax.Array, jax.Array]:
    """Up to `steps` improving moves or swaps off the most-loaded node."""
    n_tasks, n_nodes = cost.shape
    width = min(width, n_tasks)
    nodes = jnp.arange(n_nodes)  # (K,)

    def step(carry):
        count, assignment, loads, _ = carry
        critical = jnp.argmax(loads)
        top = loads[critical]
        on_critical = batch.task_mask & (assignment == critical)  # (T,)
        there = cost[:, critical]  # (T,) each task's time on the critical node
        # Candidates: the critical node's longest tasks; fillers are masked out.
        _, mine = lax.top_k(jnp.where(on_critical, there, -jnp.inf), width)  # (M,)
        mine_ok = on_critical[mine]  # (M,)
        shed = top - there[mine]  # (M,) the critical node's finish without each

        # A move: the critical node sheds a candidate, node k takes it on.
        move_peak = jnp.maximum(shed[:, None], loads + cost[mine])  # (M, K)
        can_move = mine_ok[:, None] & batch.node_mask & (nodes != critical)
        move_peak = jnp.where(can_move, move_peak, jnp.inf)  # (M, K)
        move_best, move_at = _argmin(move_peak)

        # A swap: a candidate trades places with task u on another node.
        own = jnp.take_along_axis(cost, assignment[:, None], axis=1)[:, 0]  # (T,)
        critical_after = shed[:, None] + there  # (M, T)
        other_before = loads[assignment] - own  # (T,) u's node without u
        other_after = other_before + _time_on(batch, mine, assignment)  # (M, T)
        swap_peak = jnp.maximum(critical_after, other_after)  # (M, T)
        can_swap = mine_ok[:, None] & batch.task_mask & (assignment != critical)
        swap_peak = jnp.where(can_swap, swap_peak, jnp.inf)  # (M, T)
        swap_best, swap_at = _argmin(swap_peak)

        moved = assignment.at[mine[move_at // n_nodes]].set(move_at % n_nodes)
        task, other = mine[swap_at // n_tasks], swap_at % n_tasks
        swapped = assignment.at[task].set(assignment[other]).at[other].set(critical)
        accept = jnp.minimum(move_best, swap_best) < GAIN * top
        chosen = jnp.where(swap_best < move_best, swapped, moved)  # (T,)
        assignment = jnp.where(accept, chosen, assignment)  # (T,)
        return count + 1, assignment, _loads(assignment, cost, batch.backlogs), accept

    def keep_going(carry) -> jax.Array:
        count, _, _, improved = carry
        return (count < steps) & improved

    loads = _loads(assignment, cost, batch.backlogs)  # (K,)
    start = (jnp.int32(0), assignment, loads, jnp.bool_(True))
    _, assignment, loads, _ = lax.while_loop(keep_going, step, start)
    return assignment, jnp.max(loads)


def _time_on(batch: PaddedBatch, tasks: jax.Array, nodes: jax.Array) -> jax.Array:
    """Seconds each of `tasks` would take on each of `nodes`, padding ignored.

    Without transfer times this is one division, which is why batches without
    them compile separately.
    """
    work = jnp.asarray(batch.work)[tasks]  # (A,)
    busy = work[:, None] / jnp.asarray(batch.speeds)[nodes]  # (A, B)
    if batch.transfer_s is None:
        return busy
    rows = jnp.asarray(batch.transfer_s)[tasks]  # (A, K)
    n_nodes = rows.shape[1]
    if n_nodes > 16:
        return busy + jnp.take(rows, nodes, axis=1)  # (A, B)
    # Gathers are slow on CPU; with few nodes a product with one-hot columns
    # picks the same entries (exactly, at full precision) in less time.
    picks = (nodes == jnp.arange(n_nodes)[:, None]).astype(jnp.float32)  # (K, B)
    return busy + jnp.matmul(rows, picks, precision="highest")  # (A, B)


def _argmin(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The smallest entry and its flat index, the first one on a tie."""
    flat = values.ravel()  # (N,)
    # A min and a masked min of indices: two plain reductions, which XLA on
    # CPU runs much faster than the paired reduction behind jnp.argmin.
    best = jnp.min(flat)
    index = jnp.min(jnp.where(flat == best, jnp.arange(flat.size), flat.size))
    return best, jnp.minimum(index, flat.size - 1)
