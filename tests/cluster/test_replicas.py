"""Provisioning on a three-server cluster: three replicas of everything, kept."""

import shutil
import tempfile
from pathlib import Path

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.nats_cluster import start_cluster, wait_for_cluster
from bus.provision import provision
from bus.settings import BusSettings

EVERY_STREAM = [
    subjects.TASKS_STREAM,
    subjects.JOBS_STREAM,
    subjects.EVENTS_STREAM,
    f"KV_{subjects.TASKS_BUCKET}",
    f"KV_{subjects.NODES_BUCKET}",
    f"KV_{subjects.POLICY_BUCKET}",
    f"KV_{subjects.LEADER_BUCKET}",
    f"OBJ_{subjects.FILES_BUCKET}",
]


async def test_streams_buckets_and_object_store_get_three_replicas_and_keep_them():
    root = Path(tempfile.mkdtemp(prefix="offload-replicas-"))
    cluster = start_cluster(root, size=3)
    try:
        await wait_for_cluster(cluster)
        clustered = BusSettings(nats_url=cluster.hub_urls, replicas=3)
        nc = await connect(clustered, "replicas-test")
        js = jetstream(nc)
        await provision(js, clustered)

        # A service left at the default of one replica starts later.
        await provision(js, BusSettings(nats_url=cluster.hub_urls, replicas=1))

        infos = {name: await js.stream_info(name) for name in EVERY_STREAM}
        await close(nc)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    for name, info in infos.items():
        assert info.config.num_replicas == 3, name
        peers = [info.cluster.leader] + [r.name for r in info.cluster.replicas]
        assert sorted(peers) == ["n1", "n2", "n3"], (name, peers)
    # Records are read from the leader, never from a replica that may lag.
    assert not infos[f"KV_{subjects.TASKS_BUCKET}"].config.allow_direct
