"""Live changes for the event stream: task records and node heartbeats.

One hub per web process follows the task store's change feed (new changes
only, while anybody listens: an ordered consumer on the `tasks` bucket, or a
MongoDB change stream) and the node directory, and hands every change to each
connected subscriber. Nothing grows without bound:

- a subscriber holds at most one pending event per task or node (a newer
  change replaces an older one not yet sent: a slow client skips straight to
  the latest state), and one that falls behind on more than
  `max_pending` distinct tasks is dropped; its EventSource reconnects and
  reloads the lists;
- the hub keeps the last `history` events, so a reconnecting client that
  sends Last-Event-ID gets what it missed when that is still there.

Task events are rendered to JSON once, lazily, however many clients get them.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any

from bus.errors import MalformedMessage
from bus.nodes import NodeDirectory
from bus.schemas import NodeStatus, TaskRecord
from bus.task_store import Changes, TaskChange, TaskStore

logger = logging.getLogger(__name__)

HISTORY = 1024
MAX_PENDING = 2000
NODE_SWEEP_S = 1.0
LINGER_S = 60.0


def node_view(node: NodeStatus, now: float) -> dict[str, Any]:
    """A heartbeat as the API shows it, with its age."""
    age_s = round(max(now - node.heartbeat_at, 0.0), 3)
    return {**node.public(), "age_s": age_s, "heartbeat_age_s": age_s}


class Event:
    """One change to send: its name, what it is about, and its data."""

    __slots__ = ("_frame", "_raw", "data", "key", "name", "seq")

    def __init__(
        self,
        seq: int,
        name: str,
        key: str,
        data: dict[str, Any] | None = None,
        raw: bytes = b"",
    ) -> None:
        self.seq = seq
        self.name = name
        self.key = key
        self.data = data
        self._raw = raw
        self._frame: bytes | None = None

    def frame(self, boot: str) -> bytes:
        """The event in the text/event-stream format; empty if it cannot be read."""
        if self._frame is None:
            data = self.data
            if data is None:
                try:
                    data = TaskRecord.decode(self._raw).public()
                except MalformedMessage as error:
                    logger.warning("not streaming task %s: %s", self.key, error)
            self._frame = b""
            if data is not None:
                text = json.dumps(data, separators=(",", ":"))
                self._frame = (
                    f"id: {boot}-{self.seq}\nevent: {self.name}\ndata: {text}\n\n"
                ).encode()
            self._raw = b""
        return self._frame


class Subscriber:
    """One client's pending events, at most one per task or node."""

    def __init__(self, max_pending: int) -> None:
        self._pending: OrderedDict[str, Event] = OrderedDict()
        self._max_pending = max_pending
        self.wakeup = asyncio.Event()
        self.dropped = False
        """Fell too far behind (or the service is stopping): end the stream."""

    def offer(self, event: Event) -> None:
        """Queue an event, replacing an unsent one about the same thing."""
        if self.dropped:
            return
        self._pending.pop(event.key, None)
        self._pending[event.key] = event
        if len(self._pending) > self._max_pending:
            self.drop()
        self.wakeup.set()

    def drop(self) -> None:
        """Stop taking events; the stream ends at its next wake-up."""
        self.dropped = True
        self._pending.clear()
        self.wakeup.set()

    def take(self) -> list[Event]:
        """Every pending event, oldest change first."""
        events = list(self._pending.values())
        self._pending.clear()
        self.wakeup.clear()
        return events


class EventHub:
    """Follows tasks and nodes and fans their changes out to subscribers.

    Task changes are followed only while somebody listens (and `linger_s`
    after the last one leaves, for a reconnect to resume): a consumer on
    the tasks bucket costs the server a little on every write.
    """

    def __init__(
        self,
        store: TaskStore,
        directory: NodeDirectory,
        history: int = HISTORY,
        max_pending: int = MAX_PENDING,
        linger_s: float = LINGER_S,
    ) -> None:
        self._store = store
        self._directory = directory
        self._history: deque[Event] = deque(maxlen=history)
        self._max_pending = max_pending
        self._linger_s = linger_s
        self._subscribers: set[Subscriber] = set()
        self._last_seq = 0
        self._replayable_from = 1
        self._nodes_task: asyncio.Task[None] | None = None
        self._tasks_task: asyncio.Task[None] | None = None
        self._feed: Changes | None = None
        self._starting = asyncio.Lock()
        self._linger: asyncio.Task[None] | None = None
        self.boot = uuid.uuid4().hex[:12]
        """Names this process in event ids: ids from another one mean nothing."""

    @property
    def subscriber_count(self) -> int:
        """How many clients are connected."""
        return len(self._subscribers)

    @property
    def following_tasks(self) -> bool:
        """Whether task changes are being followed right now."""
        return self._feed is not None

    async def start(self) -> None:
        """Follow node heartbeats (task changes wait for the first client)."""
        self._nodes_task = asyncio.create_task(self._follow_nodes(), name="live-nodes")
        logger.info("live event hub started")

    async def subscribe(self, last_event_id: str | None = None) -> Subscriber:
        """A new subscriber: every change from now on, plus what it missed."""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        await self._follow_tasks()
        subscriber = Subscriber(self._max_pending)
        for event in self._missed_since(last_event_id):
            subscriber.offer(event)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber whose stream ended."""
        self._subscribers.discard(subscriber)
        if not self._subscribers and self.following_tasks and self._linger is None:
            self._linger = asyncio.create_task(self._stop_when_idle())

    def close_streams(self) -> None:
        """End every open stream (the service is stopping)."""
        for subscriber in self._subscribers:
            subscriber.drop()
        self._subscribers.clear()

    async def close(self) -> None:
        """End the streams and stop following changes."""
        self.close_streams()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        await self._stop_following_tasks()
        if self._nodes_task is not None:
            self._nodes_task.cancel()
            await asyncio.gather(self._nodes_task, return_exceptions=True)
            self._nodes_task = None

    def publish(
        self,
        name: str,
        key: str,
        data: dict[str, Any] | None = None,
        raw: bytes = b"",
    ) -> Event:
        """Record a change and offer it to every subscriber."""
        self._last_seq += 1
        event = Event(self._last_seq, name, key, data, raw)
        self._history.append(event)
        for subscriber in list(self._subscribers):
            subscriber.offer(event)
            if subscriber.dropped:
                logger.info("dropped a live client that fell behind")
                self._subscribers.discard(subscriber)
        return event

    def _missed_since(self, last_event_id: str | None) -> list[Event]:
        if not last_event_id or not self._history:
            return []
        boot, _, seq_text = last_event_id.strip().rpartition("-")
        if boot != self.boot or not seq_text.isdigit():
            return []
        seen = int(seq_text)
        if seen + 1 < max(self._history[0].seq, self._replayable_from):
            return []  # some of what it missed was never seen or is gone
        return [event for event in self._history if event.seq > seen]

    async def _follow_tasks(self) -> None:
        async with self._starting:
            if self._feed is not None:
                return
            # Changes before this point were not followed: no replay across it.
            self._replayable_from = self._last_seq + 1
            feed = self._store.changes()
            changes = await feed.__aenter__()
            self._feed = feed
            self._tasks_task = asyncio.create_task(
                self._take_task_changes(feed, changes), name="live-tasks"
            )
            logger.info("following task changes for live clients")

    async def _stop_when_idle(self) -> None:
        await asyncio.sleep(self._linger_s)
        # From here on a new subscriber starts a new consumer instead.
        self._linger = None
        if not self._subscribers:
            await self._stop_following_tasks()
            logger.info("no live clients: stopped following task changes")

    async def _stop_following_tasks(self) -> None:
        task, feed = self._tasks_task, self._feed
        self._tasks_task = self._feed = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if feed is not None:
            # The connection may already be closing; nothing is left to undo.
            with contextlib.suppress(Exception):
                await feed.__aexit__(None, None, None)

    async def _take_task_changes(
        self, feed: Changes, changes: AsyncIterator[TaskChange]
    ) -> None:
        try:
            async for change in changes:
                self._on_task_change(change)
        except Exception:
            # Clients would wait for changes that never come: end their
            # streams, and the next one to connect follows afresh.
            logger.exception("lost the task changes; ending the live streams")
            if self._feed is feed:
                self._feed = self._tasks_task = None
                with contextlib.suppress(Exception):
                    await feed.__aexit__(None, None, None)
            self.close_streams()

    def _on_task_change(self, change: TaskChange) -> None:
        key = f"task:{change.task_id}"
        if change.deleted:
            self.publish("task-deleted", key, data={"id": change.task_id})
        elif change.record is not None:
            self.publish("task", key, change.record.public())
        else:
            self.publish("task", key, raw=change.raw)

    async def _follow_nodes(self) -> None:
        seen: dict[str, float] = {}
        changed = self._directory.changed
        while True:
            # Expiry is not always announced: look again every sweep anyway.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(NODE_SWEEP_S):
                    await changed.wait()
            changed.clear()

            now = time.time()
            live = {node.node_id: node for node in self._directory.live()}
            for node_id, node in live.items():
                if seen.get(node_id) != node.heartbeat_at:
                    seen[node_id] = node.heartbeat_at
                    self.publish("node", f"node:{node_id}", node_view(node, now))
            for node_id in seen.keys() - live.keys():
                del seen[node_id]
                self.publish("node-gone", f"node:{node_id}", {"node_id": node_id})
