"""A NATS cluster on loopback with the real services around it, for cluster tests.

Hub services (coordinator, cloud node) get every hub URL in NATS_URL, as a
deployment would give them; an edge node can be pointed at a leaf server
instead. Every stream and bucket has three replicas.
"""

import asyncio
import io
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError
from PIL import Image

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_cluster import LoopbackCluster, start_cluster, wait_for_cluster
from bus.nats_server import free_port
from bus.provision import provision
from bus.schemas import TaskEvent, TaskRecord
from bus.settings import BusSettings
from bus.task_store import KvTaskStore
from tests.e2e.system import RunningSystem, wait_until
from tests.e2e.test_coordinator_and_nodes import submit

logger = logging.getLogger(__name__)

REPLICAS = 3


@dataclass
class ClusterSystem:
    """A loopback cluster, the service processes, and the test's own client."""

    cluster: LoopbackCluster
    services: RunningSystem
    nc: Client
    js: JetStreamContext
    store: KvTaskStore
    files: FileStore

    def start_hub_service(self, name: str, module: str, **env: str) -> None:
        """Start a service that reaches the cluster through every hub URL."""
        self.services.start(
            name,
            module,
            NATS_URL=self.cluster.hub_urls,
            NATS_REPLICAS=str(REPLICAS),
            **env,
        )

    def start_leaf_service(self, name: str, module: str, **env: str) -> None:
        """Start a service that knows only the first leaf server's URL."""
        self.services.start(
            name,
            module,
            NATS_URL=self.cluster.leaves[0].url,
            NATS_REPLICAS=str(REPLICAS),
            **env,
        )

    async def wait_for_nodes(self, count: int, timeout_s: float = 60) -> None:
        """Until `count` nodes have a heartbeat in the `nodes` bucket."""
        kv = await self.js.key_value(subjects.NODES_BUCKET)

        async def enough() -> bool:
            try:
                return len(await kv.keys()) >= count
            except NoKeysError:  # nobody has sent a heartbeat yet
                return False

        await wait_until(enough, timeout_s, f"{count} nodes to heartbeat", 0.5)

    async def submit_many(self, count: int, first: int = 0, at_once: int = 50):
        """Schedule `count` small grayscale tasks, `at_once` in flight at a time."""
        data = small_png()
        ids: list[str] = []
        for start in range(first, first + count, at_once):
            names = [
                f"p{i}.png" for i in range(start, min(start + at_once, first + count))
            ]
            ids += await asyncio.gather(
                *[
                    submit(
                        self.js,
                        self.store,
                        self.files,
                        data,
                        name,
                        "image",
                        "grayscale",
                    )
                    for name in names
                ]
            )
        return ids

    async def watch_finishes(self) -> set[str]:
        """A set that fills with the ids of tasks whose node reported an end.

        Cheap to poll, unlike reading every record: a plain subscription to
        the `completed` and `failed` events.
        """
        finished: set[str] = set()

        async def seen(message) -> None:
            finished.add(TaskEvent.decode(message.data).task_id)

        for kind in ("completed", "failed"):
            await self.nc.subscribe(subjects.task_event(kind), cb=seen)
        return finished

    async def final_records(
        self, task_ids: list[str], finished: set[str], timeout_s: float
    ) -> list[TaskRecord]:
        """Wait until every task's record is final; return the records.

        `finished` (from `watch_finishes`) says cheaply which tasks to stop
        asking about; a plain subscription misses what is published while
        its own server is down, so the rest are read from their records.
        """
        deadline = time.monotonic() + timeout_s
        waiting = [task for task in task_ids if task not in finished]
        while waiting:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(waiting)} tasks unfinished after {timeout_s}s: "
                    f"{await self._statuses(waiting)}"
                )
            await asyncio.sleep(1.0)
            waiting = [task for task in waiting if task not in finished]
            records = await self._records(waiting)
            if records is not None:
                waiting = [r.id for r in records if not r.is_final]

        async def all_final() -> list[TaskRecord] | None:
            records = await self._records(task_ids)
            if records is None or not all(r.is_final for r in records):
                return None
            return records

        return await wait_until(all_final, 30, "every record to be final", 0.5)

    async def _statuses(self, task_ids: list[str]) -> Counter:
        records = await self._records(task_ids)
        return Counter(r.status for r in records or [])

    async def _records(self, task_ids: list[str]) -> list[TaskRecord] | None:
        # While a server dies the test's own client may time out or be
        # between servers: that is "ask again", not a failure of the system.
        try:
            return await asyncio.gather(*[self.store.get(t) for t in task_ids])
        except (nats.errors.Error, TimeoutError) as error:
            logger.info("records not readable right now: %r", error)
            return None

    async def completions_per_task(self) -> Counter:
        """How many `completed` events the EVENTS stream holds for each task."""
        subscription = await self.js.pull_subscribe(
            subjects.task_event("completed"), stream=subjects.EVENTS_STREAM
        )
        counts: Counter = Counter()
        try:
            while True:
                try:
                    messages = await subscription.fetch(500, timeout=2.0)
                except TimeoutError:
                    return counts
                for message in messages:
                    counts[TaskEvent.decode(message.data).task_id] += 1
                    await message.ack()
        finally:
            await subscription.unsubscribe()

    async def shutdown(self) -> None:
        """Stop the services, the test client, the servers; remove the files."""
        for name in list(self.services.processes):
            self.services.stop(name)
        await self.store.close()
        await close(self.nc)
        self.cluster.stop()
        if os.environ.get("KEEP_TEST_LOGS"):
            print(f"logs kept in {self.services.workdir}")
        else:
            shutil.rmtree(self.services.workdir, ignore_errors=True)


async def start_cluster_system(leaves: int = 0) -> ClusterSystem:
    """Three clustered servers (plus leaves), provisioned with three replicas."""
    workdir = Path(tempfile.mkdtemp(prefix="offload-cluster-"))
    (workdir / "scratch").mkdir()
    cluster = start_cluster(workdir / "nats", size=3, leaves=leaves)
    try:
        await wait_for_cluster(cluster)
        settings = BusSettings(
            nats_url=cluster.hub_urls, replicas=REPLICAS, node_ttl_s=3.0
        )
        nc = await connect(settings, "cluster-test")
        js = jetstream(nc)
        await provision(js, settings)
        store = await KvTaskStore.open(js)
    except BaseException:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    # The services are started through the e2e helper, which wants one
    # server; the cluster's first hub stands in, and every service is given
    # its own NATS_URL anyway.
    services = RunningSystem(
        server=cluster.hubs[0].server, workdir=workdir, web_port=free_port()
    )
    return ClusterSystem(cluster, services, nc, js, store, FileStore(js))


def small_png() -> bytes:
    """A 64x64 photo-like PNG: cheap to store and to process."""
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()
