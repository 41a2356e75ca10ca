"""The coordinator placing with the DQN and PSO, and keeping its model in NATS."""

import asyncio

import pytest

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_server import wait_for_jetstream
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.settings import BusSettings
from bus.task_store import KvTaskStore
from coordinator.policy_model import CHECKPOINT_KEY, PolicyModel
from tests.e2e.system import start_system, wait_until
from tests.e2e.test_coordinator_and_nodes import finished, submit

START_S = 120
"""Room for a coordinator to load its model and compile the DQN and PSO."""


@pytest.fixture(scope="module")
async def system():
    """A nats-server with one edge and one cloud node; coordinators come per test."""
    running = start_system()
    settings = BusSettings(nats_url=running.server.url, node_ttl_s=3.0)
    await wait_for_jetstream(settings.nats_url)
    nc = await connect(settings, "e2e-test")
    js = jetstream(nc)
    await provision(js, settings)
    running.start("edge", "edge_node", NODE_ID="edge-a")
    running.start("cloud", "cloud_node", NODE_ID="cloud-a")
    directory = NodeDirectory(await nodes_bucket(js), 3.0)
    await directory.start()
    await wait_until(
        lambda: asyncio.sleep(0, len(directory.live()) == 2), 60, "two live nodes"
    )
    try:
        yield running, js, await KvTaskStore.open(js), FileStore(js)
    finally:
        await directory.close()
        await close(nc)
        running.shutdown()


async def test_dqn_placements_are_explained_and_the_model_persists(system, media_dir):
    running, js, store, files = system
    kv = await js.key_value(subjects.POLICY_BUCKET)
    stored = PolicyModel.untrained(seed=7)
    await kv.put(CHECKPOINT_KEY, stored.to_bytes())
    version = PolicyModel.from_bytes(stored.to_bytes(), "bucket").version

    running.start("coordinator", "coordinator", POLICY="dqn")
    # Until its policy is ready, a coordinator places by earliest finish.
    await wait_until(
        lambda: asyncio.sleep(0, "policy dqn ready" in running.log("coordinator")),
        START_S,
        "the DQN ready",
    )
    assert f"policy model {version} loaded from bucket" in running.log("coordinator")
    data = (media_dir / "coffee.png").read_bytes()
    ids = [
        await submit(js, store, files, data, "coffee.png", "image", "grayscale")
        for _ in range(3)
    ]
    for task_id in ids:
        record = await wait_until(lambda t=task_id: finished(store, t), START_S, "done")
        assert record.status == "completed"
        explanation = record.explanation
        assert explanation["policy"] == "dqn"
        assert len(explanation["q_values"]) == 2
        assert isinstance(explanation["explored"], bool)
        assert explanation["policy_version"] == version
        assert explanation["planned_finish_s"] > 0

    running.stop("coordinator")
    saved = PolicyModel.from_bytes((await kv.get(CHECKPOINT_KEY)).value, "bucket")
    assert saved.version == version
    assert "saved to the policy bucket" in running.log("coordinator")

    # A restarted coordinator carries on with the saved parameters.
    running.start("coordinator-2", "coordinator", POLICY="all-cloud")
    await wait_until(
        lambda: asyncio.sleep(0, "all-cloud ready" in running.log("coordinator-2")),
        START_S,
        "all-cloud ready",
    )
    assert f"{version} loaded from bucket" in running.log("coordinator-2")
    ids = [
        await submit(js, store, files, data, "coffee.png", "image", "grayscale")
        for _ in range(3)
    ]
    for task_id in ids:
        record = await wait_until(lambda t=task_id: finished(store, t), START_S, "done")
        assert record.status == "completed"
        assert record.tier == "cloud"
        assert record.explanation["policy"] == "all-cloud"
    running.stop("coordinator-2")


async def test_the_coordinator_learns_online_and_a_restart_keeps_it(system, media_dir):
    running, js, store, files = system
    kv = await js.key_value(subjects.POLICY_BUCKET)
    start = PolicyModel.untrained(seed=11)
    await kv.put(CHECKPOINT_KEY, start.to_bytes())
    start_version = PolicyModel.from_bytes(start.to_bytes(), "bucket").version
    learn_fast = dict(
        POLICY="dqn",
        DQN_LEARN_STARTS="4",
        DQN_LEARN_INTERVAL_S="0.2",
        DQN_CHECKPOINT_S="0.5",
        DQN_UPDATES_PER_ROUND="4",
        DQN_BATCH="16",
    )

    running.start("learner", "coordinator", **learn_fast)
    await wait_until(
        lambda: asyncio.sleep(0, "policy dqn ready" in running.log("learner")),
        START_S,
        "the DQN ready",
    )
    data = (media_dir / "coffee.png").read_bytes()
    versions = []
    for _ in range(4):
        ids = [
            await submit(js, store, files, data, "coffee.png", "image", "grayscale")
            for _ in range(4)
        ]
        for task_id in ids:
            record = await wait_until(
                lambda t=task_id: finished(store, t), START_S, "done"
            )
            assert record.status == "completed"
            versions.append(record.explanation["policy_version"])
        await asyncio.sleep(0.5)
    # The first tasks were decided by the stored network, later ones by
    # networks that learned from the first ones' completions.
    assert versions[0] == start_version
    assert len(set(versions)) > 1

    async def checkpoint_moved() -> PolicyModel | None:
        saved = PolicyModel.from_bytes((await kv.get(CHECKPOINT_KEY)).value, "b")
        return saved if saved.version != start_version else None

    # Saved on schedule, while the coordinator still runs.
    saved = await wait_until(checkpoint_moved, 30, "a learned checkpoint")
    online = saved.meta["online"]
    assert online["decisions"] >= 16
    assert online["updates"] > 0 and online["transitions"] > 0

    running.stop("learner")
    final = PolicyModel.from_bytes((await kv.get(CHECKPOINT_KEY)).value, "bucket")
    running.start("learner-2", "coordinator", **learn_fast)
    await wait_until(
        lambda: asyncio.sleep(0, "policy dqn ready" in running.log("learner-2")),
        START_S,
        "the DQN ready again",
    )
    assert f"policy model {final.version} loaded from bucket" in running.log(
        "learner-2"
    )
    running.stop("learner-2")
