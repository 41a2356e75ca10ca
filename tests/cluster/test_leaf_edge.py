"""An edge site behind a leaf server: its node reaches the hub's JetStream."""

import io
import time

from PIL import Image

from bus import subjects
from tests.cluster.system import start_cluster_system

TASKS = 200


async def test_edge_node_through_a_leaf_and_cloud_node_on_the_hub_finish_200_tasks():
    system = await start_cluster_system(leaves=1)
    try:
        system.start_hub_service("coordinator", "coordinator", POLICY="greedy")
        system.start_hub_service("cloud", "cloud_node", NODE_ID="cloud-hub")
        system.start_leaf_service("edge", "edge_node", NODE_ID="edge-leaf")
        await system.wait_for_nodes(2)

        finished = await system.watch_finishes()
        began = time.monotonic()
        task_ids = await system.submit_many(TASKS)
        records = await system.final_records(task_ids, finished, timeout_s=120)
        elapsed_s = time.monotonic() - began
        completions = await system.completions_per_task()

        # The edge node's only connection is to the leaf, and the leaf's
        # only link is to a hub: what it did crossed the leaf connection.
        leaf = system.cluster.leaves[0]
        leaf_clients = {c.get("name") for c in leaf.monitor("connz")["connections"]}
        hub_clients = {
            c.get("name")
            for hub in system.cluster.hubs
            for c in hub.monitor("connz")["connections"]
        }
        sample = next(r for r in records if r.node_id == "edge-leaf")
        stored_as = sample.output_object or subjects.output_object(sample.id)
        output = await system.files.read_bytes(stored_as)
    finally:
        await system.shutdown()

    print(f"{TASKS} tasks through a 3-server cluster and a leaf in {elapsed_s:.1f}s")
    assert [r.status for r in records] == ["completed"] * TASKS, [
        (r.id, r.status, r.error) for r in records if r.status != "completed"
    ]
    by_node = {
        node: sum(r.node_id == node for r in records)
        for node in ("edge-leaf", "cloud-hub")
    }
    assert by_node["edge-leaf"] > 0 and by_node["cloud-hub"] > 0, by_node
    assert sorted(completions) == sorted(task_ids)
    assert set(completions.values()) == {1}

    assert "edge-node edge-leaf" in leaf_clients
    assert "edge-node edge-leaf" not in hub_clients
    assert {"coordinator", "cloud-node cloud-hub"} <= hub_clients
    assert Image.open(io.BytesIO(output)).mode == "L"
