"""The PSO assigner, its padding, and the NumPy baselines it is measured against."""

import itertools

import jax
import numpy as np
import pytest

from policy import assignment, pso

# The PSO tests stay in the (8, 4) and (16, 4) buckets, and only (8, 4) sees
# transfer times: three compiles of the default swarm in all.
CONFIG = pso.PsoConfig()


def random_instance(rng: np.random.Generator, n_tasks: int, n_nodes: int):
    """Work, speeds and backlogs like the benchmark's, at a small size."""
    work = rng.lognormal(np.log(0.15), 0.8, n_tasks)
    speeds = rng.uniform(0.5, 2.0, n_nodes)
    backlogs = rng.uniform(0.0, 1.0, n_nodes)
    return work, speeds, backlogs


def brute_force_makespan(work, speeds, backlogs, transfer_s=None) -> float:
    """The exact optimum, trying every assignment."""
    every = itertools.product(range(len(speeds)), repeat=len(work))
    return min(
        assignment.makespan(np.array(a), work, speeds, backlogs, transfer_s)
        for a in every
    )


def reference_list_schedule(order, work, speeds, backlogs, transfer_s):
    """Plain-Python list scheduling: each task where it would finish first."""
    loads = list(backlogs)
    chosen = [0] * len(work)
    for task in order:
        finish = [
            loads[k] + work[task] / speeds[k] + transfer_s[task][k]
            for k in range(len(speeds))
        ]
        node = finish.index(min(finish))
        chosen[task] = node
        loads[node] = finish[node]
    return chosen


def test_makespan_matches_a_hand_computed_example():
    work, speeds, backlogs = [2.0, 1.0, 3.0], [1.0, 2.0], [0.5, 0.0]
    # Node 0: 0.5 + 2 / 1 = 2.5. Node 1: 0 + 1 / 2 + 3 / 2 = 2.0.
    assert assignment.makespan([0, 1, 1], work, speeds, backlogs) == 2.5
    transfer = [[0.0, 0.0], [0.0, 0.25], [0.0, 0.5]]
    assert assignment.makespan([0, 1, 1], work, speeds, backlogs, transfer) == 2.75


def test_makespan_counts_the_backlog_of_a_node_without_tasks():
    assert assignment.makespan([0], [1.0], [1.0, 1.0], [0.0, 7.0]) == 7.0


def test_lower_bound_matches_hand_computed_examples():
    # Single-task bound: task 4 ends at best at min(0 + 4/2, 1 + 4/1) = 2.
    # Fluid bound: (2 * 0 + 1 * 1 + 6) / 3 = 7/3, the largest here.
    assert assignment.lower_bound([4.0, 1.0, 1.0], [2.0, 1.0], [0.0, 1.0]) == (
        pytest.approx(7 / 3)
    )
    # One big task: it cannot be split, so it bounds the makespan alone.
    assert assignment.lower_bound([10.0], [1.0, 1.0], [0.0, 0.0]) == 10.0
    # The largest backlog counts even when no task goes there.
    assert assignment.lower_bound([0.1], [1.0, 1.0], [0.0, 5.0]) == 5.0


def test_lower_bound_weights_backlogs_by_speed():
    # Two idle slow nodes finish an empty batch at 1 s; unweighted
    # (sum b + sum w) / sum s would claim 2 s.
    assert assignment.lower_bound([], [0.5, 0.5], [1.0, 1.0]) == 1.0


def test_lower_bound_never_exceeds_the_optimum(rng):
    for _ in range(20):
        work, speeds, backlogs = random_instance(rng, 5, 3)
        bound = assignment.lower_bound(work, speeds, backlogs)
        assert bound <= brute_force_makespan(work, speeds, backlogs) + 1e-12


def test_round_robin_cycles_through_the_nodes():
    assert assignment.round_robin(np.ones(5), np.ones(3)).tolist() == [0, 1, 2, 0, 1]


def test_random_assignment_depends_only_on_its_seed():
    first = assignment.random_assignment(np.ones(50), np.ones(3), seed=4)
    again = assignment.random_assignment(np.ones(50), np.ones(3), seed=4)
    assert np.array_equal(first, again)
    assert set(first.tolist()) == {0, 1, 2}


def test_greedy_and_lpt_match_a_plain_python_reference(rng):
    for _ in range(20):
        work, speeds, backlogs = random_instance(rng, 12, 4)
        transfer = rng.uniform(0.0, 0.2, (12, 4))
        in_order = list(range(12))
        longest_first = sorted(in_order, key=lambda t: -work[t])
        greedy = assignment.greedy_earliest_finish(work, speeds, backlogs, transfer)
        lpt = assignment.lpt(work, speeds, backlogs, transfer)
        assert greedy.tolist() == reference_list_schedule(
            in_order, work, speeds, backlogs, transfer
        )
        assert lpt.tolist() == reference_list_schedule(
            longest_first, work, speeds, backlogs, transfer
        )


def test_planned_finish_runs_each_node_longest_task_first():
    batch = assignment.check_batch([1.0, 3.0, 2.0, 4.0], [1.0, 2.0], [0.5, 0.0])
    # Node 0 runs task 1 (3 s) then task 0 (1 s); node 1 runs task 3 then task 2.
    finish = assignment.planned_finish(np.array([0, 0, 1, 1]), batch)
    assert finish.tolist() == [4.5, 3.5, 3.0, 2.0]


def test_planned_finish_matches_a_plain_python_reference(rng):
    for _ in range(20):
        work = np.round(rng.uniform(0.0, 1.0, 12), 1)  # equal work happens
        speeds, backlogs = rng.uniform(0.5, 2.0, 3), rng.uniform(0.0, 1.0, 3)
        transfer = rng.uniform(0.0, 0.1, (12, 3))
        chosen = rng.integers(3, size=12)
        batch = assignment.check_batch(work, speeds, backlogs, transfer)
        expected = [0.0] * 12
        for node in range(3):
            clock = backlogs[node]
            mine = [t for t in range(12) if chosen[t] == node]
            for task in sorted(mine, key=lambda t: (-work[t], t)):
                clock += work[task] / speeds[node] + transfer[task][node]
                expected[task] = clock
        got = assignment.planned_finish(chosen, batch)
        assert got == pytest.approx(expected, rel=1e-12)


def test_padding_rounds_up_to_buckets_and_masks_the_rest():
    batch = assignment.check_batch(np.ones(9), np.ones(3), np.zeros(3))
    padded = assignment.pad_batch(batch)
    assert padded.work.shape == (16,) and padded.speeds.shape == (4,)
    assert padded.task_mask.sum() == 9
    assert padded.node_mask.tolist() == [True, True, True, False]
    assert padded.transfer_s is None  # all zero: the cheaper compile
    with_transfer = assignment.check_batch(
        np.ones(9), np.ones(3), np.zeros(3), np.full((9, 3), 0.1)
    )
    assert assignment.pad_batch(with_transfer).transfer_s.shape == (16, 4)


def test_too_many_tasks_raise_value_error_naming_the_limit():
    with pytest.raises(ValueError, match="1024 tasks"):
        pso.assign(np.ones(1025), np.ones(2), np.zeros(2))


def test_too_many_nodes_raise_value_error_naming_the_limit():
    with pytest.raises(ValueError, match="64 nodes"):
        pso.assign(np.ones(3), np.ones(65), np.zeros(65))


def test_bad_inputs_raise_value_error_naming_the_field():
    with pytest.raises(ValueError, match="speeds"):
        pso.assign(np.ones(3), [1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="transfer_s"):
        pso.assign(np.ones(3), np.ones(2), np.zeros(2), transfer_s=np.zeros((2, 3)))


def test_config_rejects_an_empty_swarm_naming_the_field():
    with pytest.raises(ValueError, match="particles"):
        pso.PsoConfig(particles=0)


def test_empty_batch_finishes_with_the_largest_backlog():
    result = pso.assign(np.zeros(0), np.ones(2), np.array([0.5, 2.0]))
    assert result.assignment.size == 0 and result.makespan == 2.0


def test_pso_is_never_worse_than_its_lpt_seed(rng, key):
    for index in range(40):
        n_tasks, n_nodes = int(rng.integers(1, 17)), int(rng.integers(1, 5))
        assert_never_worse_than_lpt(
            *random_instance(rng, n_tasks, n_nodes),
            None,
            jax.random.fold_in(key, index),
        )


def test_pso_with_transfer_times_is_never_worse_than_lpt(rng, key):
    for index in range(20):
        n_tasks, n_nodes = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        transfer = rng.uniform(0.0, 0.1, (n_tasks, n_nodes))
        assert_never_worse_than_lpt(
            *random_instance(rng, n_tasks, n_nodes),
            transfer,
            jax.random.fold_in(key, index),
        )


def assert_never_worse_than_lpt(work, speeds, backlogs, transfer, key):
    """The PSO's answer, its makespan and its LPT figure are all consistent."""
    result = pso.assign(work, speeds, backlogs, transfer, key, CONFIG)
    lpt = assignment.lpt(work, speeds, backlogs, transfer)
    assert result.lpt_makespan == assignment.makespan(
        lpt, work, speeds, backlogs, transfer
    )
    assert result.makespan <= result.lpt_makespan
    assert result.makespan == assignment.makespan(
        result.assignment, work, speeds, backlogs, transfer
    )


def test_pso_finds_the_optimum_of_most_tiny_instances(rng, key):
    pso_hits = lpt_hits = 0
    for index in range(20):
        work, speeds, backlogs = random_instance(rng, 6, 2)
        best = brute_force_makespan(work, speeds, backlogs)
        result = pso.assign(
            work, speeds, backlogs, key=jax.random.fold_in(key, index), config=CONFIG
        )
        pso_hits += result.makespan <= best * (1 + 1e-9)
        lpt_hits += result.lpt_makespan <= best * (1 + 1e-9)
    assert pso_hits >= 18
    assert pso_hits > lpt_hits


def test_same_key_gives_same_assignment(rng, key):
    work, speeds, backlogs = random_instance(rng, 14, 3)
    first = pso.assign(work, speeds, backlogs, key=key, config=CONFIG)
    again = pso.assign(work, speeds, backlogs, key=key, config=CONFIG)
    assert np.array_equal(first.assignment, again.assignment)
    assert first.makespan == again.makespan


def test_pso_never_assigns_to_padded_node(rng, key):
    work, speeds, backlogs = random_instance(rng, 12, 3)
    padded = assignment.pad_batch(assignment.check_batch(work, speeds, backlogs))
    # Make the padded node the most tempting place there is, were it visible.
    speeds = padded.speeds.copy()
    speeds[3] = 1000.0
    backlogs = np.where(padded.node_mask, 5.0, 0.0).astype(np.float32)
    padded = padded._replace(speeds=speeds, backlogs=backlogs)
    seeds = np.zeros((2, 16), np.int32)
    state = pso.solve(key, padded, seeds, CONFIG)
    real = padded.task_mask
    assert np.all(np.asarray(state.best_assignment)[:, real] < 3)
    assert np.all(np.asarray(state.global_assignment)[real] < 3)
    assert np.isfinite(float(state.global_makespan))


def test_padded_tasks_do_not_change_the_makespan(rng, key):
    work, speeds, backlogs = random_instance(rng, 5, 3)
    transfer = rng.uniform(0.0, 0.1, (5, 3))
    batch = assignment.check_batch(work, speeds, backlogs, transfer)
    padded = assignment.pad_batch(batch)
    seeds = np.zeros((2, 8), np.int32)
    clean = pso.solve(key, padded, seeds, CONFIG)
    # Whatever sits in the padded entries must be masked away.
    real_task = padded.task_mask[:, None]
    garbage = padded._replace(
        work=np.where(padded.task_mask, padded.work, 50.0).astype(np.float32),
        transfer_s=np.where(real_task, padded.transfer_s, 9.0).astype(np.float32),
    )
    dirty = pso.solve(key, garbage, seeds, CONFIG)
    real = np.asarray(clean.global_assignment)[:5]
    assert np.array_equal(np.asarray(dirty.global_assignment)[:5], real)
    assert float(dirty.global_makespan) == float(clean.global_makespan)
    assert float(clean.global_makespan) == pytest.approx(
        assignment.makespan(real, work, speeds, backlogs, transfer), rel=1e-6
    )


def test_new_batch_size_in_a_bucket_does_not_recompile(rng, key):
    pso.assign(*random_instance(rng, 9, 3), key=key, config=CONFIG)
    compiled = pso.solve._cache_size()
    for n_tasks, n_nodes in ((10, 2), (13, 4), (16, 1)):
        pso.assign(*random_instance(rng, n_tasks, n_nodes), key=key, config=CONFIG)
    assert pso.solve._cache_size() == compiled


def test_warm_up_compiles_what_the_first_batch_needs(rng, key):
    config = pso.PsoConfig(particles=4, iterations=2)
    before = pso.solve._cache_size()
    assert pso.warm_up(config, task_buckets=(8,), node_buckets=(4,)) == 1
    assert pso.solve._cache_size() == before + 1
    work, speeds, backlogs = random_instance(rng, 7, 3)
    transfer = rng.uniform(0.0, 0.1, (7, 3))
    pso.assign(work, speeds, backlogs, transfer, key, config)
    assert pso.solve._cache_size() == before + 1


def test_planned_finish_of_each_node_ends_at_its_load(rng, key):
    work, speeds, backlogs = random_instance(rng, 15, 4)
    result = pso.assign(work, speeds, backlogs, key=key, config=CONFIG)
    batch = assignment.check_batch(work, speeds, backlogs)
    loads = assignment.node_loads(result.assignment, batch)
    for node in set(result.assignment.tolist()):
        on_node = result.planned_finish_s[result.assignment == node]
        assert on_node.max() == pytest.approx(loads[node])
    assert result.planned_finish_s.max() <= result.makespan + 1e-12
