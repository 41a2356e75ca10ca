"""Spreading a batch of tasks over edge nodes: the makespan, its bound, baselines.

The problem: T tasks with work `w_t` (reference seconds, i.e. seconds on a node
of speed 1.0) and an optional transfer time `x_tk` per task and node go to K
edge nodes with speeds `s_k > 0` and backlogs `b_k >= 0` (seconds before a new
job would start). A task occupies its node for `w_t / s_k + x_tk`, and the
makespan is `max_k (b_k + sum of those times over the tasks on k)`.

Everything here is plain NumPy in float64: the baselines the PSO is measured
against (and seeded with), and the padding of a batch to the fixed bucket
sizes the jitted PSO compiles for.
"""

from typing import NamedTuple

import numpy as np

TASK_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024)
"""Task counts the PSO compiles for; a batch is padded up to the next one."""
NODE_BUCKETS = (4, 8, 16, 32, 64)
"""Node counts the PSO compiles for; the nodes are padded up to the next one."""


class Batch(NamedTuple):
    """A checked batch in float64: what every function here works on."""

    work: np.ndarray  # (T,) reference seconds
    speeds: np.ndarray  # (K,)
    backlogs: np.ndarray  # (K,) seconds
    transfer_s: np.ndarray  # (T, K) seconds, zeros when none was given


class PaddedBatch(NamedTuple):
    """A batch padded to bucket sizes in float32, with masks for the real entries."""

    work: np.ndarray  # (T_pad,) zero for padded tasks
    speeds: np.ndarray  # (K_pad,) one for padded nodes
    backlogs: np.ndarray  # (K_pad,) zero for padded nodes
    transfer_s: np.ndarray | None  # (T_pad, K_pad) zero outside; None if all zero
    task_mask: np.ndarray  # (T_pad,) bool, True for real tasks
    node_mask: np.ndarray  # (K_pad,) bool, True for real nodes


def check_batch(
    work: np.ndarray,
    speeds: np.ndarray,
    backlogs: np.ndarray,
    transfer_s: np.ndarray | None = None,
) -> Batch:
    """Validate the inputs and return them as float64 arrays; ValueError if bad."""
    work = np.asarray(work, dtype=np.float64)
    speeds = np.asarray(speeds, dtype=np.float64)
    backlogs = np.asarray(backlogs, dtype=np.float64)
    if work.ndim != 1:
        raise ValueError(f"work must be one-dimensional, got shape {work.shape}")
    if speeds.ndim != 1 or speeds.shape != backlogs.shape:
        raise ValueError(
            "speeds and backlogs must be one-dimensional and of equal length, "
            f"got shapes {speeds.shape} and {backlogs.shape}"
        )
    if speeds.size == 0:
        raise ValueError("speeds is empty: there is no node to assign tasks to")
    if transfer_s is None:
        transfer = np.zeros((work.size, speeds.size))
    else:
        transfer = np.asarray(transfer_s, dtype=np.float64)
        if transfer.shape != (work.size, speeds.size):
            raise ValueError(
                f"transfer_s must have shape (tasks, nodes) = "
                f"{(work.size, speeds.size)}, got {transfer.shape}"
            )
    for name, array in (
        ("work", work),
        ("backlogs", backlogs),
        ("transfer_s", transfer),
    ):
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{name} must be finite and non-negative")
    if not np.all(np.isfinite(speeds)) or np.any(speeds <= 0):
        raise ValueError("speeds must be finite and positive")
    return Batch(work, speeds, backlogs, transfer)


def task_costs(batch: Batch) -> np.ndarray:
    """Seconds each task would occupy each node: work / speed + transfer."""
    return batch.work[:, None] / batch.speeds[None, :] + batch.transfer_s  # (T, K)


def makespan(
    assignment: np.ndarray,
    work: np.ndarray,
    speeds: np.ndarray,
    backlogs: np.ndarray,
    transfer_s: np.ndarray | None = None,
) -> float:
    """When the last node finishes: max over nodes of backlog plus assigned time."""
    batch = check_batch(work, speeds, backlogs, transfer_s)
    return float(node_loads(assignment, batch).max())


def node_loads(assignment: np.ndarray, batch: Batch) -> np.ndarray:
    """Each node's finish time under `assignment`: backlog plus its tasks' time."""
    assignment = np.asarray(assignment)
    n_nodes = batch.speeds.size
    if assignment.shape != batch.work.shape:
        raise ValueError(
            f"assignment must have one node per task, shape {batch.work.shape}, "
            f"got {assignment.shape}"
        )
    if assignment.size and (assignment.min() < 0 or assignment.max() >= n_nodes):
        raise ValueError(f"assignment has node indices outside [0, {n_nodes})")
    tasks = np.arange(assignment.size)
    per_task = task_costs(batch)[tasks, assignment]  # (T,)
    loads = np.bincount(assignment, weights=per_task, minlength=n_nodes)  # (K,)
    return batch.backlogs + loads


def lower_bound(work: np.ndarray, speeds: np.ndarray, backlogs: np.ndarray) -> float:
    """A makespan no assignment can beat (transfer times only add to it).

    The largest of three bounds:
    - the largest backlog, since every node's finish counts;
    - the largest "single task finish": for each task, its earliest finish on
      an otherwise untouched node, min over k of (b_k + w_t / s_k); the
      largest of these over tasks, since that task must run somewhere;
    - the fluid bound (sum_k s_k b_k + sum_t w_t) / sum_k s_k: finishing every
      node by C (at least every backlog, by the first bound) leaves node k
      room for s_k (C - b_k) of work, and the work must fit into that room.

    The issue wrote the fluid bound as (sum b + sum w) / sum s. That adds
    seconds of backlog to reference seconds of work, and it is no bound when
    nodes are slower than 1.0: two idle nodes of speed 0.5 with 1 s backlog
    each finish an empty batch at 1 s, while that formula gives 2 s. Each
    backlog is therefore weighted by its node's speed here.
    """
    batch = check_batch(work, speeds, backlogs)
    bound = float(batch.backlogs.max())
    if batch.work.size:
        finish = batch.backlogs[None, :] + task_costs(batch)  # (T, K)
        bound = max(bound, float(finish.min(axis=1).max()))
    fluid = (batch.speeds @ batch.backlogs + batch.work.sum()) / batch.speeds.sum()
    return max(bound, float(fluid))


def round_robin(work: np.ndarray, speeds: np.ndarray) -> np.ndarray:
    """Task i goes to node i mod K, ignoring speeds and loads."""
    return np.arange(np.asarray(work).size) % np.asarray(speeds).size


def random_assignment(
    work: np.ndarray, speeds: np.ndarray, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Each task goes to a node drawn uniformly at random."""
    rng = np.random.default_rng(seed)
    return rng.integers(np.asarray(speeds).size, size=np.asarray(work).size)


def greedy_earliest_finish(
    work: np.ndarray,
    speeds: np.ndarray,
    backlogs: np.ndarray,
    transfer_s: np.ndarray | None = None,
) -> np.ndarray:
    """Tasks in the given order, each to the node where it would finish first."""
    batch = check_batch(work, speeds, backlogs, transfer_s)
    return _list_schedule(np.arange(batch.work.size), batch)


def lpt(
    work: np.ndarray,
    speeds: np.ndarray,
    backlogs: np.ndarray,
    transfer_s: np.ndarray | None = None,
) -> np.ndarray:
    """Longest processing time first: by work descending, each where it ends first."""
    batch = check_batch(work, speeds, backlogs, transfer_s)
    return _list_schedule(lpt_order(batch.work), batch)


def lpt_order(work: np.ndarray) -> np.ndarray:
    """Task indices by work descending; equal work keeps the given order."""
    return np.argsort(-np.asarray(work), kind="stable")


def planned_finish(assignment: np.ndarray, batch: Batch) -> np.ndarray:
    """Each task's planned finish when every node runs its tasks in LPT order.

    A node starts after its backlog and runs its tasks longest work first
    (equal work in batch order), so a task finishes at the backlog plus the
    time of the tasks before it on that node plus its own.
    """
    assignment = np.asarray(assignment)
    if assignment.size == 0:
        return np.zeros(0)
    per_task = task_costs(batch)[np.arange(assignment.size), assignment]  # (T,)
    order = lpt_order(batch.work)
    order = order[np.argsort(assignment[order], kind="stable")]  # by node, then LPT
    nodes = assignment[order]  # (T,)
    own = per_task[order]  # (T,)
    ends = np.cumsum(own)  # (T,) running total across the nodes in turn
    starts_node = np.r_[True, nodes[1:] != nodes[:-1]]  # (T,)
    # The running total is non-decreasing, so carrying the largest value seen
    # carries each node's starting total to all of that node's tasks.
    before_node = np.maximum.accumulate(np.where(starts_node, ends - own, 0.0))
    finish = np.empty(assignment.size)
    finish[order] = batch.backlogs[nodes] + ends - before_node
    return finish


def bucket_size(count: int, buckets: tuple[int, ...], what: str) -> int:
    """The smallest bucket holding `count`; ValueError naming the limit if none."""
    for size in buckets:
        if count <= size:
            return size
    raise ValueError(
        f"{count} {what} exceed the limit of {buckets[-1]} {what} per batch"
    )


def pad_batch(batch: Batch) -> PaddedBatch:
    """Pad a batch up to its task and node buckets, in float32 with masks.

    Transfer times that are all zero become None, which the PSO compiles
    separately into cheaper code. Real nodes come first, then padded ones.
    """
    n_tasks, n_nodes = batch.transfer_s.shape
    t_pad = bucket_size(n_tasks, TASK_BUCKETS, "tasks")
    k_pad = bucket_size(n_nodes, NODE_BUCKETS, "nodes")
    work = np.zeros(t_pad, np.float32)
    work[:n_tasks] = batch.work
    speeds = np.ones(k_pad, np.float32)
    speeds[:n_nodes] = batch.speeds
    backlogs = np.zeros(k_pad, np.float32)
    backlogs[:n_nodes] = batch.backlogs
    transfer = None
    if np.any(batch.transfer_s):
        transfer = np.zeros((t_pad, k_pad), np.float32)
        transfer[:n_tasks, :n_nodes] = batch.transfer_s
    return PaddedBatch(
        work,
        speeds,
        backlogs,
        transfer,
        np.arange(t_pad) < n_tasks,
        np.arange(k_pad) < n_nodes,
    )


def _list_schedule(order: np.ndarray, batch: Batch) -> np.ndarray:
    """Place tasks one by one in `order`, each on the node that finishes it first."""
    costs = task_costs(batch)  # (T, K)
    loads = batch.backlogs.copy()  # (K,)
    assignment = np.zeros(batch.work.size, dtype=np.int64)
    for task in order:
        finish = loads + costs[task]  # (K,)
        node = int(finish.argmin())
        assignment[task] = node
        loads[node] = finish[node]
    return assignment
