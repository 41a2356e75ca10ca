"""The coordinator's picture of each node's load between heartbeats.

A heartbeat says how much work a node had queued when it was sent; work the
coordinator dispatched since then is added on top, so a burst of decisions
between two heartbeats does not pile everything onto one node.
"""

import time
from collections import defaultdict, deque

from bus.nodes import NodeDirectory
from bus.schemas import NodeStatus
from policy.cost_model import CostModel
from policy.types import NodeView

CLOUD_POOL_ID = "cloud"


class LoadView:
    """Live node views for the policy: heartbeat backlog plus recent dispatches."""

    def __init__(self, directory: NodeDirectory, costs: CostModel) -> None:
        self._directory = directory
        self._costs = costs
        self._dispatched: dict[str, deque[tuple[float, float]]] = defaultdict(deque)

    def edge_nodes(self) -> list[NodeView]:
        """Every live edge node."""
        return [self._view(node) for node in self._directory.live("edge")]

    def cloud_pool(self) -> NodeView | None:
        """All live cloud workers as one pool sharing a queue, or None."""
        workers = self._directory.live("cloud")
        if not workers:
            return None
        capacity = sum(max(w.capacity, 1) for w in workers)
        speed = sum(w.speed * max(w.capacity, 1) for w in workers) / capacity
        # Every worker reports the same shared queue; its backlog in seconds is
        # spread over the whole pool's capacity.
        queued_work_s = max(w.backlog_s * max(w.capacity, 1) for w in workers)
        newest = max(w.heartbeat_at for w in workers)
        backlog_s = queued_work_s / capacity
        backlog_s += self._since(CLOUD_POOL_ID, newest) / (capacity * speed)
        link = self._costs.links["cloud"]
        return NodeView(
            CLOUD_POOL_ID,
            "cloud",
            speed,
            capacity,
            backlog_s,
            link.bandwidth_bps,
            link.rtt_s,
            newest,
        )

    def dispatched(self, node_id: str | None, work_s: float) -> None:
        """Remember work just sent to a node (None: the cloud pool)."""
        queue = self._dispatched[node_id or CLOUD_POOL_ID]
        queue.append((time.time(), work_s))

    def _view(self, node: NodeStatus) -> NodeView:
        capacity = max(node.capacity, 1)
        elapsed_s = max(time.time() - node.heartbeat_at, 0.0)
        backlog_s = max(node.backlog_s - elapsed_s, 0.0)
        backlog_s += self._since(node.node_id, node.heartbeat_at) / (
            capacity * max(node.speed, 1e-6)
        )
        link = self._costs.links["edge"]
        return NodeView(
            node.node_id,
            "edge",
            node.speed,
            capacity,
            backlog_s,
            link.bandwidth_bps,
            link.rtt_s,
            node.heartbeat_at,
        )

    def _since(self, node_id: str, heartbeat_at: float) -> float:
        queue = self._dispatched[node_id]
        while queue and queue[0][0] < heartbeat_at:
            queue.popleft()
        return sum(work_s for _, work_s in queue)
