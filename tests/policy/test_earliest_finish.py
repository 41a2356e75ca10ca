"""The earliest-finish baseline and the cost model."""

import pytest

from policy.cost_model import MB, CostModel
from policy.earliest_finish import earliest_finish
from policy.types import NodeView, TaskEstimate


def node(node_id: str, tier: str = "edge", speed=1.0, capacity=1, backlog_s=0.0):
    return NodeView(node_id, tier, speed, capacity, backlog_s, 100 * MB, 0.001)


def test_each_task_goes_where_it_finishes_first():
    tasks = [TaskEstimate("t", 1000, 1.0)]
    busy = node("busy", backlog_s=5.0)
    idle_slow = node("slow", speed=0.5)

    (placement,) = earliest_finish(tasks, [busy, idle_slow], None)

    assert placement.node_id == "slow"
    assert placement.planned_finish_s == pytest.approx(2.0 + 0.001 + 2000 / (100 * MB))


def test_a_burst_is_spread_in_proportion_to_speed():
    tasks = [TaskEstimate(str(i), 1000, 0.1) for i in range(30)]
    fast, slow = node("fast", speed=2.0), node("slow", speed=1.0)

    placements = earliest_finish(tasks, [fast, slow], None)
    counts = {n: sum(p.node_id == n for p in placements) for n in ("fast", "slow")}

    assert counts == {"fast": 20, "slow": 10}
    assert fast.backlog_s == 0.0  # the caller's views are not modified


def test_cloud_pool_gets_no_node_id_and_answers_keep_task_order():
    tasks = [TaskEstimate("small", 10, 0.01), TaskEstimate("big", 10, 5.0)]
    cloud = node("cloud", tier="cloud", capacity=8)

    placements = earliest_finish(tasks, [node("e", backlog_s=10.0)], cloud)

    assert [p.task_id for p in placements] == ["small", "big"]
    assert all(p.tier == "cloud" and p.node_id is None for p in placements)


def test_without_edge_nodes_the_reason_says_so():
    (placement,) = earliest_finish(
        [TaskEstimate("t", 1, 0.1)], [], node("cloud", tier="cloud")
    )
    assert placement.reason == "no live edge node"


def test_nowhere_to_place_is_a_clear_error():
    with pytest.raises(ValueError, match="no live node"):
        earliest_finish([TaskEstimate("t", 1, 0.1)], [], None)


def test_cost_model_follows_measured_compute_times():
    costs = CostModel(smoothing=0.5)
    before = costs.work_s("image", "blur", MB)
    for _ in range(20):
        costs.observe_compute("image", "blur", MB, compute_s=0.5, speed=2.0)

    assert before != pytest.approx(1.0, abs=0.05)
    assert costs.work_s("image", "blur", MB) == pytest.approx(1.0, abs=0.01)
    assert costs.work_s("image", "grayscale", MB) == before
