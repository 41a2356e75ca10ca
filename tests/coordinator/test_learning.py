"""Online learning: transitions from real outcomes, training rounds, schedules."""

import asyncio

import numpy as np
import pytest

from coordinator.decider import Decider
from coordinator.learning import Experience, Learner, reward, run_learning
from coordinator.policy_model import PolicyModel
from coordinator.settings import LearningSettings
from policy import dqn
from policy.observation import OBS_DIM
from policy.types import NodeView, TaskEstimate
from tests.factories import task_record

NOW = 1000.0


def obs_rows(n: int, start: float = 0.0) -> np.ndarray:
    """Observations whose first column says which decision they belong to."""
    rows = np.zeros((n, OBS_DIM), np.float32)
    rows[:, 0] = np.arange(n) + start
    return rows


def completed(task_id: str, total_ms: float, tier: str = "edge", compute_ms=100.0):
    return task_record(
        id=task_id,
        status="completed",
        tier=tier,
        total_ms=total_ms,
        compute_ms=compute_ms,
    )


def test_reward_is_the_simulators_latency_plus_cloud_cost():
    assert reward(completed("a", 1000.0, "edge")) == pytest.approx(-0.5)
    # On the cloud the compute seconds are paid for: (1.0 + 0.4) / 2.
    assert reward(completed("b", 1000.0, "cloud", 400.0)) == pytest.approx(-0.7)
    assert reward(task_record(id="c", status="failed", error="bad file")) is None


def test_a_transition_needs_its_outcome_and_the_next_decision():
    experience = Experience(capacity=16, pending_limit=100)
    experience.remember(["a", "b"], obs_rows(2), np.array([0, 1]))
    experience.finished(completed("b", 500.0))
    # b finished, but no task was decided after it yet; a has no outcome.
    assert experience.size == 0

    experience.finished(completed("a", 1000.0))
    assert experience.size == 1
    experience.remember(["c"], obs_rows(1, start=2.0), np.array([0]))
    assert experience.size == 2

    batch = experience.sample(np.random.default_rng(0), steps=3, batch=50)
    assert batch.obs.shape == (3, 50, OBS_DIM)
    # Each transition's next observation is the next decision's.
    assert np.array_equal(batch.next_obs[..., 0], batch.obs[..., 0] + 1)
    by_first = {0.0: -0.5, 1.0: -0.25}
    firsts, rewards = batch.obs[..., 0].ravel(), batch.reward.ravel()
    for first, value in zip(firsts, rewards, strict=True):
        assert value == pytest.approx(by_first[float(first)])
    assert set(batch.action.ravel().tolist()) == {0, 1}
    assert (batch.weight == 1).all() and (batch.done == 0).all()


def test_failures_unknown_tasks_and_overflow_leave_no_transition():
    experience = Experience(capacity=4, pending_limit=3)
    experience.remember(["a", "b"], obs_rows(2), np.zeros(2))
    experience.finished(task_record(id="a", status="failed", error="corrupt"))
    experience.finished(completed("nobody-decided-this", 100.0))
    assert experience.size == 0
    assert experience.waiting == 1

    experience.remember(["c", "d", "e"], obs_rows(3, 2.0), np.zeros(3))
    assert experience.waiting == 3
    # b was the oldest and was dropped to keep the limit.
    experience.finished(completed("b", 100.0))
    assert experience.size == 0

    experience.finished(completed("c", 100.0))
    experience.finished(completed("d", 100.0))
    experience.remember(["f", "g"], obs_rows(2, 5.0), np.zeros(2))
    for task_id in "ef":
        experience.finished(completed(task_id, 100.0))
    experience.remember(["h"], obs_rows(1, 7.0), np.zeros(1))
    experience.finished(completed("g", 100.0))
    # c, d, e, f and g made transitions; the ring keeps the newest 4.
    assert experience.added == 5
    assert experience.size == 4
    kept = experience.sample(np.random.default_rng(0), steps=1, batch=200)
    assert set(kept.obs[..., 0].ravel().tolist()) == {3.0, 4.0, 5.0, 6.0}


def test_exploration_decays_to_its_floor():
    settings = LearningSettings(
        epsilon_start=0.2, epsilon_floor=0.02, epsilon_decay_decisions=100
    )
    assert settings.epsilon(0) == pytest.approx(0.2)
    assert settings.epsilon(50) == pytest.approx(0.11)
    assert settings.epsilon(100) == pytest.approx(0.02)
    assert settings.epsilon(10_000) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        LearningSettings(epsilon_start=0.01, epsilon_floor=0.05)


def test_update_many_lowers_the_td_loss_on_a_fixed_batch():
    model = PolicyModel.untrained(seed=1)
    experience = Experience(capacity=64, pending_limit=100)
    ids = [f"t{i}" for i in range(33)]
    rows = np.random.default_rng(0).normal(size=(33, OBS_DIM)).astype(np.float32)
    experience.remember(ids, rows, np.arange(33) % 2)
    for i, task_id in enumerate(ids):
        experience.finished(completed(task_id, 200.0 + 50 * (i % 5)))
    batches = experience.sample(np.random.default_rng(1), steps=200, batch=32)
    first = dqn.td_loss(
        model.state.params, model.state.target_params, _row(batches, 0), 0.8
    )[0]
    state, metrics = dqn.update_many(model.state, batches, model.config)
    assert int(state.updates) == 200
    assert metrics.loss.shape == (200,)
    last = dqn.td_loss(state.params, state.target_params, _row(batches, 0), 0.8)[0]
    assert float(last) < float(first)


def _row(batches, i):
    return type(batches)(*(leaf[i] for leaf in batches))


def edge_node(node_id: str) -> NodeView:
    return NodeView(node_id, "edge", 1.0, 1, 0.0, 1e8, 0.001, NOW - 1.0)


def cloud_pool() -> NodeView:
    return NodeView("cloud", "cloud", 2.0, 4, 0.0, 5e7, 0.02, NOW - 0.5)


def estimates(n: int, prefix: str) -> list[TaskEstimate]:
    return [TaskEstimate(f"{prefix}{i}", 100_000, 0.05) for i in range(n)]


async def test_the_decider_learns_from_completions_and_counts_carry_over():
    settings = LearningSettings(
        interval_s=0.05,
        updates_per_round=4,
        batch_size=16,
        learn_starts=8,
        checkpoint_s=0.05,
        epsilon_start=0.5,
        epsilon_floor=0.0,
        epsilon_decay_decisions=40,
    )
    start = PolicyModel.from_bytes(PolicyModel.untrained(3).to_bytes(), "bucket")
    learner = Learner(settings, start, seed=0)
    decider = Decider("dqn", start, seed=0, learner=learner)
    assert decider.epsilon == pytest.approx(0.5)

    saved: list[PolicyModel] = []

    async def save(model: PolicyModel) -> None:
        saved.append(model)

    stop = asyncio.Event()
    loop = asyncio.create_task(run_learning(decider, learner, save, stop))
    for round_no in range(4):
        batch = estimates(10, f"r{round_no}-")
        decisions = decider.decide(batch, [edge_node("a")], cloud_pool(), now=NOW)
        for task, decision in zip(batch, decisions, strict=True):
            tier = decision.placement.tier
            decider.finished(completed(task.task_id, 300.0, tier))
    assert learner.decisions == 40
    assert decider.epsilon == pytest.approx(0.0)

    for _ in range(100):
        if saved:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await loop

    assert learner.rounds >= 1
    assert decider.model.version != start.version
    assert decider.model.source == "online"
    assert saved and saved[-1].meta["online"]["decisions"] == 40
    assert saved[-1].meta["online"]["updates"] == learner.updates > 0

    # A restart from the saved checkpoint keeps the counts and the network.
    again = PolicyModel.from_bytes(saved[-1].to_bytes(), "bucket")
    assert again.version == saved[-1].version
    resumed = Learner(settings, again, seed=0)
    assert resumed.decisions == 40
    assert resumed.updates == learner.updates


def test_without_learning_nothing_is_due():
    model = PolicyModel.untrained(0)
    learner = Learner(LearningSettings(enabled=False, learn_starts=1), model, 0)
    learner.remember(["a", "b"], obs_rows(2), np.zeros(2))
    learner.finished(completed("a", 100.0))
    assert learner.experience.size == 1
    assert not learner.due()
