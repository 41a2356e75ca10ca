"""Node liveness: heartbeats into the `nodes` bucket and a live directory of them."""

import asyncio
import logging
import time

from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from bus import subjects
from bus.errors import MalformedMessage
from bus.schemas import NodeStatus

logger = logging.getLogger(__name__)


async def nodes_bucket(js: JetStreamContext) -> KeyValue:
    """The provisioned `nodes` bucket."""
    return await js.key_value(subjects.NODES_BUCKET)


async def publish_heartbeat(kv: KeyValue, status: NodeStatus) -> None:
    """Write a node's current status under its id."""
    await kv.put(status.node_id, status.encode())


async def withdraw(kv: KeyValue, node_id: str) -> None:
    """Remove a node's entry when it shuts down cleanly."""
    await kv.delete(node_id)


class NodeDirectory:
    """Every node's latest heartbeat, kept current by a KV watch.

    The bucket's entries expire on their own, but an expiry is not always
    announced to watchers, so liveness is judged by heartbeat age as well.
    """

    def __init__(self, kv: KeyValue, ttl_s: float) -> None:
        self._kv = kv
        self._ttl_s = ttl_s
        self._nodes: dict[str, NodeStatus] = {}
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self.changed = asyncio.Event()
        """Set whenever a node appears, changes or leaves."""

    async def start(self) -> None:
        """Load current heartbeats and follow new ones."""
        watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="node-directory")
        await self._loaded.wait()

    async def close(self) -> None:
        """Stop following heartbeats."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def live(self, tier: str | None = None) -> list[NodeStatus]:
        """Nodes whose last heartbeat is younger than the TTL, by id."""
        horizon = time.time() - self._ttl_s
        return sorted(
            (
                node
                for node in self._nodes.values()
                if node.heartbeat_at >= horizon and (tier is None or node.tier == tier)
            ),
            key=lambda node: node.node_id,
        )

    def get(self, node_id: str) -> NodeStatus | None:
        """A live node's latest heartbeat, if it is live."""
        return next((n for n in self.live() if n.node_id == node_id), None)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    self._loaded.set()
                    continue
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    self._nodes.pop(entry.key, None)
                    self.changed.set()
                    continue
                try:
                    self._nodes[entry.key] = NodeStatus.decode(entry.value)
                except MalformedMessage as error:
                    logger.warning("ignoring heartbeat of %s: %s", entry.key, error)
                    continue
                self.changed.set()
        finally:
            await watcher.stop()
