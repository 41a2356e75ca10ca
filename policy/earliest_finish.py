"""The greedy baseline: each task goes where it is expected to finish first.

Tasks are taken longest first (as in LPT scheduling) so big tasks do not end
up queued behind a pile of small ones; each choice adds the task's work to the
chosen node's backlog before the next task is placed.
"""

from policy.types import NodeView, Placement, TaskEstimate


def earliest_finish(
    tasks: list[TaskEstimate],
    edge_nodes: list[NodeView],
    cloud: NodeView | None,
) -> list[Placement]:
    """Place every task on the live node (or cloud pool) that finishes it soonest.

    Returns placements in the order of `tasks`. Raises ValueError when there
    is nowhere to place anything.
    """
    candidates = [_copy(node) for node in edge_nodes]
    if cloud is not None:
        candidates.append(_copy(cloud))
    if not candidates:
        raise ValueError("no live node to place tasks on")

    chosen: dict[str, Placement] = {}
    for task in sorted(tasks, key=lambda t: t.work_s, reverse=True):
        best = min(candidates, key=lambda node: _finish_s(node, task))
        finish_s = _finish_s(best, task)
        best.backlog_s += best.compute_s(task.work_s) / best.capacity
        chosen[task.task_id] = Placement(
            task_id=task.task_id,
            tier=best.tier,
            node_id=best.node_id if best.tier == "edge" else None,
            planned_finish_s=finish_s,
            estimated_work_s=task.work_s,
            reason=_reason(best, edge_nodes, cloud),
        )
    return [chosen[task.task_id] for task in tasks]


def _finish_s(node: NodeView, task: TaskEstimate) -> float:
    return (
        node.backlog_s + node.transfer_s(task.size_bytes) + node.compute_s(task.work_s)
    )


def _reason(best: NodeView, edge_nodes: list[NodeView], cloud: NodeView | None) -> str:
    if not edge_nodes:
        return "no live edge node"
    if cloud is None:
        return "no live cloud node"
    return f"earliest estimated finish ({best.tier})"


def _copy(node: NodeView) -> NodeView:
    return NodeView(
        node.node_id,
        node.tier,
        node.speed,
        max(node.capacity, 1),
        max(node.backlog_s, 0.0),
        node.bandwidth_bps,
        node.rtt_s,
    )
