"""Choosing where each task of a batch runs: the DQN plus PSO, or a baseline.

Every policy first picks a tier per task; the edge share is then spread over
the live edge nodes by one PSO call, and the cloud share goes to the shared
cloud queue. With no live edge node everything goes to the cloud, and with no
cloud node everything to the edge. `greedy` is the earliest-finish rule and
places tasks on nodes itself.
"""

import logging
import time
from collections import deque
from typing import Any

import jax
import numpy as np

from bus.schemas import TaskRecord
from coordinator.decision import Decision, explained, greedy
from coordinator.learning import CLOUD_COST_WEIGHT, Learner
from coordinator.policy_model import PolicyModel
from coordinator.settings import ALIASES, POLICIES
from policy import dqn, observation, pso
from policy.cost_model import MB
from policy.sim import CLOUD, EDGE
from policy.types import NodeView, Placement, TaskEstimate

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 10.0
"""Arrivals over this many seconds make the recent arrival rate."""
ERROR_SMOOTHING = 0.1
"""Weight of a new sample in the moving averages of latency errors."""
FINISH_CAP_S = 60.0
"""Stand-in finish and backlog for a tier with no live node."""


class Decider:
    """Places batches with the configured policy, keeping the figures it needs."""

    def __init__(
        self,
        policy: str,
        model: PolicyModel | None = None,
        epsilon: float = 0.02,
        seed: int = 0,
        learner: Learner | None = None,
    ) -> None:
        policy = ALIASES.get(policy, policy)
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
        self.policy = policy
        self.model = model if model is not None else PolicyModel.untrained(seed)
        """Read once per batch; online learning replaces it between batches."""
        self.learner = learner
        """Remembers DQN decisions and sets exploration; None keeps `epsilon`."""
        self._epsilon = epsilon
        self._key = jax.random.key(seed)
        self._rng = np.random.default_rng(seed)
        self._arrivals: deque[tuple[float, int]] = deque()
        self._tier_err_s = {"edge": 0.0, "cloud": 0.0}
        self._node_err_s: dict[str, float] = {}

    def warm_up(self) -> float:
        """Compile the DQN's and PSO's common buckets; returns the seconds taken.

        Safe to run in another thread while `decide` is called.
        """
        began = time.perf_counter()
        if self.policy == "dqn":
            key = jax.random.key(0)
            for size in dqn.BUCKETS:
                obs = np.zeros((size, observation.OBS_DIM), np.float32)
                _, q = dqn.act(
                    self.model.state.params,
                    obs,
                    np.ones(size, bool),
                    key,
                    np.float32(0),
                )
                q.block_until_ready()
        if self.policy != "greedy":
            pso.warm_up()
        return time.perf_counter() - began

    def observe_latency(
        self, tier: str, node_id: str | None, observed_s: float, predicted_s: float
    ) -> None:
        """Fold one completion's observed-minus-predicted latency into the averages."""
        error_s = observed_s - predicted_s
        known = self._tier_err_s.get(tier, 0.0)
        self._tier_err_s[tier] = known + ERROR_SMOOTHING * (error_s - known)
        if node_id:
            known = self._node_err_s.get(node_id, 0.0)
            self._node_err_s[node_id] = known + ERROR_SMOOTHING * (error_s - known)

    def decide(
        self,
        tasks: list[TaskEstimate],
        edge: list[NodeView],
        cloud: NodeView | None,
        now: float | None = None,
    ) -> list[Decision]:
        """Place every task of the batch; decisions come in the order of `tasks`."""
        if not edge and cloud is None:
            raise ValueError("no live node to place tasks on")
        began = time.perf_counter()
        now = time.time() if now is None else now
        self._note_arrivals(now, len(tasks))
        if self.policy == "greedy":
            return greedy(tasks, edge, cloud)
        extras: list[dict] = [{} for _ in tasks]
        tiers, reasons, obs = self._tiers(tasks, edge, cloud, now, extras)
        placements = self._spread(tasks, tiers, reasons, edge, cloud)
        if obs is not None and self.learner is not None:
            # What was done, not what the network chose: with one tier down
            # the task went to the other, and that is what its reward rates.
            taken = np.array([CLOUD if p.tier == "cloud" else EDGE for p in placements])
            self.learner.remember([t.task_id for t in tasks], obs, taken)
        return explained(self.policy, placements, extras, began)

    def finished(self, record: TaskRecord) -> None:
        """A task reached its end: fold in how far off its plan was, and learn."""
        predicted_s = (record.explanation or {}).get("planned_finish_s")
        if (
            record.status == "completed"
            and predicted_s is not None
            and record.picked_at is not None
            and record.completed_at is not None
            and record.tier is not None
        ):
            observed_s = max(record.completed_at - record.picked_at, 0.0)
            self.observe_latency(
                record.tier, record.node_id, observed_s, float(predicted_s)
            )
        if self.learner is not None:
            self.learner.finished(record)

    # --- tier choice --------------------------------------------------------

    def _tiers(
        self,
        tasks: list[TaskEstimate],
        edge: list[NodeView],
        cloud: NodeView | None,
        now: float,
        extras: list[dict],
    ) -> tuple[np.ndarray, list[str], np.ndarray | None]:
        """Tier per task, why, and the DQN's observations (None for baselines)."""
        n = len(tasks)
        if self.policy == "all-edge":
            return np.full(n, EDGE), ["all-edge baseline"] * n, None
        if self.policy == "all-cloud":
            return np.full(n, CLOUD), ["all-cloud baseline"] * n, None
        if self.policy == "random":
            return self._rng.integers(0, 2, n), ["random baseline"] * n, None
        model = self.model
        obs = self.observations(tasks, edge, cloud, now)
        actions, q, explored = self._act(model, *dqn.pad_to_bucket(obs))
        version = model.version
        reasons = []
        for i in range(n):
            extras[i].update(
                q_values=[round(float(v), 4) for v in q[i]],
                explored=bool(explored[i]),
                policy_version=version,
            )
            choice = "explored" if explored[i] else "highest Q"
            reasons.append(f"dqn {choice} ({'cloud' if actions[i] else 'edge'})")
        return actions[:n], reasons, obs

    @property
    def epsilon(self) -> float:
        """Share of DQN decisions explored at random now."""
        return self.learner.epsilon if self.learner is not None else self._epsilon

    def _act(
        self, model: PolicyModel, obs: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions, Q-values and whether each action differs from the highest-Q one."""
        self._key, key = jax.random.split(self._key)
        actions, q = dqn.act(
            model.state.params, obs, mask, key, np.float32(self.epsilon)
        )
        actions, q = np.asarray(actions), np.asarray(q)
        return actions, q, actions != q.argmax(axis=1)

    def observations(
        self,
        tasks: list[TaskEstimate],
        edge: list[NodeView],
        cloud: NodeView | None,
        now: float,
    ) -> np.ndarray:
        """The DQN's (n, OBS_DIM) observations from the live figures."""
        size = np.array([t.size_bytes for t in tasks], np.float64)
        work = np.array([t.work_s for t in tasks], np.float64)
        zeros = np.zeros(len(tasks))
        if edge:
            # (n, K) estimated finish of each task on each edge node.
            finish = np.stack([_finish_s(node, size, work) for node in edge], 1)
            pick = finish.argmin(axis=1)
            backlogs = np.array([node.backlog_s for node in edge])
            ages = np.array([max(now - node.heartbeat_at, 0.0) for node in edge])
            node_err = np.array([self._node_err_s.get(n.node_id, 0.0) for n in edge])
            edge_figures = {
                "edge_min_backlog_s": zeros + backlogs.min(),
                "edge_mean_backlog_s": zeros + backlogs.mean(),
                "edge_speed": zeros + np.mean([node.speed for node in edge]),
                "edge_bw_mbps": zeros + edge[0].bandwidth_bps / MB,
                "edge_rtt_s": zeros + edge[0].rtt_s,
                "edge_finish_s": finish[np.arange(len(tasks)), pick],
                "pick_err_s": node_err[pick],
                "pick_hb_age_s": ages[pick],
                "max_hb_age_s": zeros + ages.max(),
            }
        else:
            edge_figures = {
                "edge_min_backlog_s": zeros + FINISH_CAP_S,
                "edge_mean_backlog_s": zeros + FINISH_CAP_S,
                "edge_speed": zeros,
                "edge_bw_mbps": zeros + 1.0,
                "edge_rtt_s": zeros,
                "edge_finish_s": zeros + FINISH_CAP_S,
                "pick_err_s": zeros,
                "pick_hb_age_s": zeros,
                "max_hb_age_s": zeros,
            }
        if cloud is not None:
            cloud_compute = work / max(cloud.speed, 1e-6)
            cloud_figures = {
                "cloud_backlog_s": zeros + cloud.backlog_s,
                "cloud_speed": zeros + cloud.speed,
                "cloud_bw_mbps": zeros + cloud.bandwidth_bps / MB,
                "cloud_rtt_s": zeros + cloud.rtt_s,
                "cloud_finish_s": _finish_s(cloud, size, work),
                "cloud_cost": CLOUD_COST_WEIGHT * cloud_compute,
            }
        else:
            cloud_figures = {
                "cloud_backlog_s": zeros + FINISH_CAP_S,
                "cloud_speed": zeros,
                "cloud_bw_mbps": zeros + 1.0,
                "cloud_rtt_s": zeros,
                "cloud_finish_s": zeros + FINISH_CAP_S,
                "cloud_cost": zeros,
            }
        return observation.build(
            size_mb=size / MB,
            work_est_s=work,
            edge_live=zeros + len(edge),
            arrival_rate=zeros + self._arrival_rate(now),
            edge_err_s=zeros + self._tier_err_s["edge"],
            cloud_err_s=zeros + self._tier_err_s["cloud"],
            **edge_figures,
            **cloud_figures,
        )

    # --- node choice --------------------------------------------------------

    def _spread(
        self,
        tasks: list[TaskEstimate],
        tiers: np.ndarray,
        reasons: list[str],
        edge: list[NodeView],
        cloud: NodeView | None,
    ) -> list[Placement]:
        """Cloud tasks to the cloud queue, edge tasks over edge nodes by PSO."""
        if not edge:
            tiers, reasons = (
                np.full(len(tasks), CLOUD),
                ["no live edge node"] * len(tasks),
            )
        elif cloud is None and (tiers == CLOUD).any():
            reasons = [
                "no live cloud node" if tier == CLOUD else reason
                for tier, reason in zip(tiers, reasons, strict=True)
            ]
            tiers = np.full(len(tasks), EDGE)
        placements: list[Placement | None] = [None] * len(tasks)
        on_edge = [i for i, tier in enumerate(tiers) if tier == EDGE]
        if on_edge:
            planned = self._assign_edge([tasks[i] for i in on_edge], edge)
            for i, (node, finish_s) in zip(on_edge, planned, strict=True):
                placements[i] = Placement(
                    tasks[i].task_id,
                    "edge",
                    node.node_id,
                    finish_s,
                    tasks[i].work_s,
                    reasons[i],
                )
        for i, tier in enumerate(tiers):
            if tier == CLOUD and cloud is not None:
                task = tasks[i]
                finish_s = float(_finish_s(cloud, task.size_bytes, task.work_s))
                placements[i] = Placement(
                    task.task_id, "cloud", None, finish_s, task.work_s, reasons[i]
                )
        return [p for p in placements if p is not None]

    def _assign_edge(
        self, tasks: list[TaskEstimate], edge: list[NodeView]
    ) -> list[tuple[NodeView, float]]:
        """One PSO call spreading these tasks over the edge nodes."""
        work = np.array([t.work_s for t in tasks])
        # A node's slots share its queue, so it works off capacity x speed.
        speeds = np.array([n.speed * max(n.capacity, 1) for n in edge])
        backlogs = np.array([max(n.backlog_s, 0.0) for n in edge])
        transfer = np.array([[n.transfer_s(t.size_bytes) for n in edge] for t in tasks])
        self._key, key = jax.random.split(self._key)
        result = pso.assign(work, speeds, backlogs, transfer, key=key)
        return [
            (edge[int(k)], float(f))
            for k, f in zip(result.assignment, result.planned_finish_s, strict=True)
        ]

    # --- moving figures -----------------------------------------------------

    def _note_arrivals(self, now: float, count: int) -> None:
        self._arrivals.append((now, count))
        while self._arrivals and self._arrivals[0][0] < now - RATE_WINDOW_S:
            self._arrivals.popleft()

    def _arrival_rate(self, now: float) -> float:
        """Tasks per second over the last RATE_WINDOW_S (or since the first one)."""
        if not self._arrivals:
            return 0.0
        span_s = max(now - self._arrivals[0][0], 1.0)
        return sum(count for _, count in self._arrivals) / min(span_s, RATE_WINDOW_S)


def _finish_s(node: NodeView, size_bytes: Any, work_s: Any) -> Any:
    """Estimated finish on `node` as the earliest-finish rule sees it (vectorized)."""
    transfer_s = node.rtt_s + 2 * size_bytes / max(node.bandwidth_bps, 1.0)
    return node.backlog_s + transfer_s + work_s / max(node.speed, 1e-6)
