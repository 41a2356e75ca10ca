"""The decider with fake node views: DQN plus PSO, baselines, fallbacks."""

import numpy as np
import pytest

from coordinator.decider import Decider
from coordinator.policy_model import PolicyModel, shipped
from policy.observation import OBS_DIM
from policy.types import NodeView, TaskEstimate

NOW = 1000.0


def edge_node(node_id: str, speed: float = 1.0, backlog_s: float = 0.0) -> NodeView:
    return NodeView(node_id, "edge", speed, 1, backlog_s, 1e8, 0.001, NOW - 1.0)


def cloud_pool(backlog_s: float = 0.0) -> NodeView:
    return NodeView("cloud", "cloud", 2.0, 4, backlog_s, 5e7, 0.02, NOW - 0.5)


def tasks(n: int) -> list[TaskEstimate]:
    return [TaskEstimate(f"t{i}", 200_000 * (i + 1), 0.05 * (i + 1)) for i in range(n)]


@pytest.fixture(scope="module")
def model() -> PolicyModel:
    found = shipped()
    assert found is not None, "the pre-trained checkpoint is not shipped"
    return found


def test_dqn_explains_every_decision(model):
    decider = Decider("dqn", model, epsilon=0.0)
    batch = tasks(5)
    decisions = decider.decide(batch, [edge_node("a"), edge_node("b")], cloud_pool())
    assert [d.placement.task_id for d in decisions] == [t.task_id for t in batch]
    for decision in decisions:
        explanation = decision.explanation
        assert explanation["policy"] == "dqn"
        assert len(explanation["q_values"]) == 2
        assert explanation["explored"] is False
        assert explanation["policy_version"] == model.version
        assert explanation["planned_finish_s"] > 0
        assert explanation["batch_size"] == 5
        q_edge, q_cloud = explanation["q_values"]
        assert decision.placement.tier == ("edge" if q_edge >= q_cloud else "cloud")
        if decision.placement.tier == "edge":
            assert decision.placement.node_id in ("a", "b")
        else:
            assert decision.placement.node_id is None


def test_observations_have_the_dqn_width(model):
    decider = Decider("dqn", model)
    obs = decider.observations(tasks(3), [edge_node("a")], cloud_pool(), NOW)
    assert obs.shape == (3, OBS_DIM)
    assert np.isfinite(obs).all()


def test_full_exploration_is_recorded(model):
    decider = Decider("dqn", model, epsilon=1.0, seed=3)
    decisions = decider.decide(tasks(64), [edge_node("a")], cloud_pool())
    assert any(d.explanation["explored"] for d in decisions)


def test_all_edge_spreads_over_the_edge_nodes():
    decider = Decider("all-edge")
    decisions = decider.decide(tasks(8), [edge_node("a"), edge_node("b")], None)
    assert {d.placement.tier for d in decisions} == {"edge"}
    assert {d.placement.node_id for d in decisions} == {"a", "b"}


def test_all_cloud_sends_everything_to_the_cloud():
    decider = Decider("all-cloud")
    decisions = decider.decide(tasks(4), [edge_node("a")], cloud_pool())
    assert {(d.placement.tier, d.placement.node_id) for d in decisions} == {
        ("cloud", None)
    }


def test_without_edge_nodes_everything_goes_to_the_cloud(model):
    decisions = Decider("dqn", model).decide(tasks(4), [], cloud_pool())
    assert {d.placement.tier for d in decisions} == {"cloud"}
    assert {d.explanation["reason"] for d in decisions} == {"no live edge node"}


def test_without_a_cloud_the_cloud_choices_go_to_the_edge():
    decisions = Decider("all-cloud").decide(tasks(4), [edge_node("a")], None)
    assert {d.placement.node_id for d in decisions} == {"a"}
    assert {d.explanation["reason"] for d in decisions} == {"no live cloud node"}


def test_random_is_seeded():
    def tiers(seed: int) -> list[str]:
        decider = Decider("random", seed=seed)
        decisions = decider.decide(tasks(16), [edge_node("a")], cloud_pool())
        return [d.placement.tier for d in decisions]

    assert tiers(1) == tiers(1)
    assert set(tiers(1)) == {"edge", "cloud"}


def test_greedy_and_its_old_name_use_earliest_finish():
    decider = Decider("earliest-finish")
    assert decider.policy == "greedy"
    (decision,) = decider.decide(
        tasks(1), [edge_node("a", backlog_s=100.0)], cloud_pool()
    )
    assert decision.placement.tier == "cloud"
    assert decision.explanation["policy"] == "greedy"


def test_no_node_at_all_is_an_error():
    with pytest.raises(ValueError):
        Decider("greedy").decide(tasks(1), [], None)


def test_model_round_trips_through_bytes(model):
    again = PolicyModel.from_bytes(model.to_bytes(), "bucket")
    assert again.version == model.version
    assert PolicyModel.untrained().version == "untrained"


def test_latency_errors_reach_the_observation(model):
    decider = Decider("dqn", model)
    before = decider.observations(tasks(1), [edge_node("a")], cloud_pool(), NOW)
    decider.observe_latency("edge", "a", observed_s=3.0, predicted_s=1.0)
    after = decider.observations(tasks(1), [edge_node("a")], cloud_pool(), NOW)
    assert not np.array_equal(before, after)
