"""Task records: the store interface and its embedded implementation on NATS KV.

Updates are optimistic: read the record with its revision, change it, write it
back only if nobody wrote in between, and try again if somebody did. The
MongoDB implementation (`bus.mongo_store`) keeps the same contract;
`bus.store_factory.open_task_store` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from bus import subjects, task_stats
from bus.errors import ConflictingUpdate, MalformedMessage, TaskExists, TaskNotFound
from bus.revision_cache import DEFAULT_SIZE, RevisionCache
from bus.schemas import TaskRecord

logger = logging.getLogger(__name__)

Change = Callable[[TaskRecord], bool]
"""Mutates a record in place; returns False when there is nothing to write."""

SortKey = tuple[float, str]
"""A record's position in the listing order (see `sort_key`)."""

MAX_UPDATE_ATTEMPTS = 20
SCAN_IDLE_S = 2.0
"""A scan that got nothing for this long asks the server whether it is done."""
MARKER_REASON = "Nats-Marker-Reason"
"""Header nats-server 2.11+ puts on markers it writes itself (expiry, purge)."""


@dataclass(frozen=True)
class TaskQuery:
    """Filters and paging for listing tasks, newest first."""

    status: str | None = None
    tier: str | None = None
    kind: str | None = None
    filename: str | None = None
    limit: int | None = None
    before: str | None = None
    """Cursor: list tasks that come after this task id in the order."""
    after: SortKey | None = None
    """Cursor: list tasks that come after this position (a `sort_key`)."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be 0 or more, not {self.limit}")

    def filters_only(self) -> TaskQuery:
        """The same filters without the cursor and the limit."""
        return dataclasses.replace(self, limit=None, before=None, after=None)


@dataclass
class TaskChange:
    """One change to a record, as the change feed reports it."""

    task_id: str
    raw: bytes = b""
    """The record as msgpack (the embedded store), decoded only when read."""
    record: TaskRecord | None = None
    """The record itself (the MongoDB store)."""

    @property
    def deleted(self) -> bool:
        """Whether the record is gone."""
        return not self.raw and self.record is None

    def decoded(self) -> TaskRecord | None:
        """The record as it now is; None when deleted. May raise MalformedMessage."""
        if self.record is None and self.raw:
            self.record = TaskRecord.decode(self.raw)
        return self.record


Changes = AbstractAsyncContextManager[AsyncIterator[TaskChange]]
"""Entered: changes are followed from then on; the iterator yields them."""


class TaskStore(Protocol):
    """Where task records live; implemented on NATS KV and on MongoDB."""

    async def create(self, record: TaskRecord) -> None:
        """Store a new record; raise TaskExists if the id is taken."""

    async def get(self, task_id: str) -> TaskRecord:
        """The current record; raise TaskNotFound when there is none."""

    async def update(self, task_id: str, change: Change) -> TaskRecord:
        """Apply `change` atomically and return the record as stored."""

    async def delete(self, task_id: str) -> None:
        """Remove a record; raise TaskNotFound when there is none."""

    async def list(self, query: TaskQuery) -> list[TaskRecord]:
        """Records matching the query, newest upload first."""

    async def count(self, query: TaskQuery) -> int:
        """How many records match the query's filters (cursor and limit aside)."""

    async def stats(self, now: float, bucket_s: int) -> dict[str, Any]:
        """The figures of GET /api/v1/stats over every record."""

    def changes(self) -> Changes:
        """Follow every change to any record, made by anyone, from now on."""

    async def start_view(self) -> None:
        """Get ready to serve listings to the web service."""

    async def close(self) -> None:
        """Release what the store holds (watches, connections)."""


def is_removal(message: Msg) -> bool:
    """Whether a KV stream message marks its key deleted or purged."""
    headers = message.headers or {}
    return headers.get(KV_OP) in (KV_DEL, KV_PURGE) or MARKER_REASON in headers


async def with_idle_ticks(
    messages: AsyncIterator[Msg], idle_s: float
) -> AsyncIterator[Msg | None]:
    """The messages as they come, and None after every `idle_s` without one.

    The wait for a message is never cancelled by a tick (a message that
    arrives just then would be lost), only when the iteration ends.
    """
    waiting: asyncio.Future[Msg] | None = None
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(messages.__anext__())
            done, _ = await asyncio.wait({waiting}, timeout=idle_s)
            if not done:
                yield None
                continue
            try:
                message = waiting.result()
            except StopAsyncIteration:
                return
            waiting = None
            yield message
    finally:
        if waiting is not None:
            waiting.cancel()


def sort_key(record: TaskRecord) -> SortKey:
    """Newest first, ties broken by id so paging is stable."""
    return (-(record.uploaded_at or 0.0), record.id)


def matches(record: TaskRecord, query: TaskQuery) -> bool:
    """Whether a record passes the query's filters."""
    return (
        (query.status is None or record.status == query.status)
        and (query.tier is None or record.tier == query.tier)
        and (query.kind is None or record.kind == query.kind)
        and (query.filename is None or record.filename == query.filename)
    )


def apply_query(records: list[TaskRecord], query: TaskQuery) -> list[TaskRecord]:
    """Filter, order and page records in memory."""
    chosen = [record for record in records if matches(record, query)]
    chosen.sort(key=sort_key)
    if query.before is not None:
        ids = [record.id for record in chosen]
        start = ids.index(query.before) + 1 if query.before in ids else len(ids)
        chosen = chosen[start:]
    if query.after is not None:
        chosen = chosen[bisect.bisect_right(chosen, query.after, key=sort_key) :]
    if query.limit is not None:
        chosen = chosen[: query.limit]
    return chosen


@dataclass(frozen=True)
class StoredEntry:
    """One key of the bucket as it is stored: raw bytes and revision."""

    key: str
    revision: int
    raw: bytes


class ViewEntry:
    """One record in the live view: raw bytes until somebody reads it."""

    __slots__ = ("raw", "record", "revision")

    def __init__(
        self, revision: int, raw: bytes = b"", record: TaskRecord | None = None
    ) -> None:
        self.revision = revision
        self.raw = raw
        self.record = record

    def decoded(self, key: str) -> TaskRecord | None:
        """The record, decoding it on first use; None if it is malformed."""
        if self.record is None and self.raw:
            try:
                self.record = TaskRecord.decode(self.raw)
            except MalformedMessage as error:
                logger.warning("skipping task record %s: %s", key, error)
            self.raw = b""
        return self.record


class KvTaskStore:
    """Task records in the `tasks` KV bucket, with an optional live local view.

    Services that list records (the web service) call `start_view()`: a KV
    watch then keeps every record in memory, so listing costs no round trip.
    Writers keep the revisions they saw, so most updates take one round trip.
    """

    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        bucket: str = subjects.TASKS_BUCKET,
        revision_cache_size: int = DEFAULT_SIZE,
    ) -> None:
        self._js = js
        self._kv = kv
        self._bucket = bucket
        self._revisions = RevisionCache(revision_cache_size)
        self._view: dict[str, ViewEntry] | None = None
        self._view_task: asyncio.Task[None] | None = None
        self._view_ready = asyncio.Event()

    @classmethod
    async def open(
        cls, js: JetStreamContext, bucket: str = subjects.TASKS_BUCKET
    ) -> KvTaskStore:
        """Bind to the provisioned `tasks` bucket (or another one, for tests)."""
        return cls(js, await js.key_value(bucket), bucket)

    async def create(self, record: TaskRecord) -> None:
        """Store a new record; raise TaskExists if the id is taken."""
        try:
            revision = await self._kv.create(record.id, record.encode())
        except KeyWrongLastSequenceError:
            raise TaskExists(record.id) from None
        self._remember(record, revision)

    async def get(self, task_id: str) -> TaskRecord:
        """The current record; raise TaskNotFound when there is none."""
        record, _ = await self._fetch(task_id)
        return record

    async def update(self, task_id: str, change: Change) -> TaskRecord:
        """Apply `change` atomically and return the record as stored."""
        cached = self._recall(task_id)
        for _ in range(MAX_UPDATE_ATTEMPTS):
            record, revision = cached or await self._fetch(task_id)
            cached = None
            if not change(record):
                return record
            try:
                new_revision = await self._kv.update(
                    task_id, record.encode(), last=revision
                )
            except KeyWrongLastSequenceError:
                logger.debug("task %s changed concurrently; retrying", task_id)
                self._revisions.forget(task_id)
                continue
            self._remember(record, new_revision)
            return record
        raise ConflictingUpdate(task_id, MAX_UPDATE_ATTEMPTS)

    async def delete(self, task_id: str) -> None:
        """Remove a record; raise TaskNotFound when there is none."""
        await self._fetch(task_id)
        await self._kv.purge(task_id)
        self._revisions.forget(task_id)
        if self._view is not None:
            self._view.pop(task_id, None)

    async def list(self, query: TaskQuery) -> list[TaskRecord]:
        """Records matching the query, newest upload first."""
        return apply_query(await self._records(), query)

    async def count(self, query: TaskQuery) -> int:
        """How many records match the query's filters (cursor and limit aside)."""
        return sum(1 for record in await self._records() if matches(record, query))

    async def stats(self, now: float, bucket_s: int) -> dict[str, Any]:
        """The figures of GET /api/v1/stats, computed from the records in memory."""
        records = await self.list(TaskQuery())
        return task_stats.stats(records, now, bucket_s)

    @contextlib.asynccontextmanager
    async def changes(self) -> AsyncIterator[AsyncIterator[TaskChange]]:
        """Follow every change to the bucket from now on (an ordered consumer)."""
        subscription = await self._subscribe(DeliverPolicy.NEW)
        try:
            yield self._read_changes(subscription.messages)
        finally:
            # The connection may already be closing; nothing is left to undo.
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def start_view(self) -> None:
        """Keep every record in memory from now on, fed by the bucket's stream."""
        if self._view_task is not None:
            return
        self._view = {}
        if await self._is_empty():
            self._view_ready.set()
        subscription = await self._subscribe(DeliverPolicy.LAST_PER_SUBJECT)
        self._view_task = asyncio.create_task(
            self._follow(subscription), name="task-view"
        )
        await self._view_ready.wait()
        logger.info("task view loaded with %d records", len(self._view))

    async def close(self) -> None:
        """Stop the live view, if any."""
        if self._view_task is not None:
            self._view_task.cancel()
            await asyncio.gather(self._view_task, return_exceptions=True)
            self._view_task = None

    async def entries(self) -> AsyncIterator[StoredEntry]:
        """Every stored key with its raw value and revision, one at a time.

        Ends once the server has nothing more to deliver; a key written while
        the scan runs may come twice, its newer revision last.
        """
        if await self._is_empty():
            return
        # Not KeyValue.watchall(): its end-of-data marker can come before the
        # data when the consumer's info arrives first, and a scan then ends
        # empty. Each message's own pending count says when we are done.
        subscription = await self._subscribe(DeliverPolicy.LAST_PER_SUBJECT)
        prefix = f"$KV.{self._bucket}."
        deliveries = with_idle_ticks(subscription.messages, SCAN_IDLE_S)
        try:
            async for message in deliveries:
                if message is None:
                    if (await subscription.consumer_info()).num_pending == 0:
                        return
                    continue
                metadata = message.metadata
                if message.data and not is_removal(message):
                    key = message.subject[len(prefix) :]
                    yield StoredEntry(key, metadata.sequence.stream, message.data)
                if metadata.num_pending == 0:
                    return
        finally:
            await deliveries.aclose()
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _records(self) -> list[TaskRecord]:
        if self._view is None:
            return await self._scan()
        await self._view_ready.wait()
        records = [entry.decoded(key) for key, entry in self._view.items()]
        return [record for record in records if record is not None]

    async def _read_changes(
        self, messages: AsyncIterator[Msg]
    ) -> AsyncIterator[TaskChange]:
        prefix = f"$KV.{self._bucket}."
        async for message in messages:
            raw = b"" if is_removal(message) else message.data
            yield TaskChange(message.subject[len(prefix) :], raw=raw)

    async def _follow(self, subscription: JetStreamContext.PushSubscription) -> None:
        assert self._view is not None
        prefix = f"$KV.{self._bucket}."
        deliveries = with_idle_ticks(subscription.messages, SCAN_IDLE_S)
        try:
            async for message in deliveries:
                if message is None:
                    if not self._view_ready.is_set():
                        info = await subscription.consumer_info()
                        if info.num_pending == 0:
                            self._view_ready.set()
                    continue
                key = message.subject[len(prefix) :]
                revision = message.metadata.sequence.stream
                if is_removal(message) or not message.data:
                    self._view.pop(key, None)
                else:
                    known = self._view.get(key)
                    if known is None or known.revision < revision:
                        # Decoded only when read: most versions are never listed.
                        self._view[key] = ViewEntry(revision, raw=message.data)
                if message.metadata.num_pending == 0:
                    self._view_ready.set()
        finally:
            await deliveries.aclose()
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _is_empty(self) -> bool:
        info = await self._js.stream_info(f"KV_{self._bucket}")
        return info.state.messages == 0

    async def _subscribe(
        self, deliver: DeliverPolicy
    ) -> JetStreamContext.PushSubscription:
        # An ordered consumer: in order, no acks, recreated by the client
        # if a message goes missing.
        return await self._js.subscribe(
            f"$KV.{self._bucket}.>",
            stream=f"KV_{self._bucket}",
            ordered_consumer=True,
            deliver_policy=deliver,
        )

    async def _scan(self) -> list[TaskRecord]:
        records: dict[str, TaskRecord] = {}
        async for entry in self.entries():
            try:
                records[entry.key] = TaskRecord.decode(entry.raw)
            except MalformedMessage as error:
                logger.warning("skipping task record %s: %s", entry.key, error)
        return list(records.values())

    async def _fetch(self, task_id: str) -> tuple[TaskRecord, int]:
        try:
            entry = await self._kv.get(task_id)
        except (KeyNotFoundError, InvalidKeyError):
            # An id that cannot even be a key names no task.
            raise TaskNotFound(task_id) from None
        if not entry.value:
            raise TaskNotFound(task_id)
        record = TaskRecord.decode(entry.value)
        assert entry.revision is not None
        self._remember(record, entry.revision)
        return record, entry.revision

    def _recall(self, task_id: str) -> tuple[TaskRecord, int] | None:
        known = self._revisions.recall(task_id)
        if known is None and self._view is not None and task_id in self._view:
            entry = self._view[task_id]
            viewed = entry.decoded(task_id)
            known = (viewed.copy(), entry.revision) if viewed is not None else None
        return known

    def _remember(self, record: TaskRecord, revision: int) -> None:
        snapshot = self._revisions.remember(record, revision)
        if self._view is not None:
            known = self._view.get(record.id)
            if known is None or known.revision < revision:
                self._view[record.id] = ViewEntry(revision, record=snapshot)
