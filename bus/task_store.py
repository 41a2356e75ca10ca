"""Task records: the store interface and its embedded implementation on NATS KV.

Updates are optimistic: read the record with its revision, change it, write it
back only if nobody wrote in between, and try again if somebody did.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from bus import subjects
from bus.errors import ConflictingUpdate, MalformedMessage, TaskExists, TaskNotFound
from bus.schemas import TaskRecord

logger = logging.getLogger(__name__)

Change = Callable[[TaskRecord], bool]
"""Mutates a record in place; returns False when there is nothing to write."""

MAX_UPDATE_ATTEMPTS = 20


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


def sort_key(record: TaskRecord) -> tuple[float, str]:
    """Newest first, ties broken by id so paging is stable."""
    return (-(record.uploaded_at or 0.0), record.id)


def apply_query(records: list[TaskRecord], query: TaskQuery) -> list[TaskRecord]:
    """Filter, order and page records in memory."""
    chosen = [
        record
        for record in records
        if (query.status is None or record.status == query.status)
        and (query.tier is None or record.tier == query.tier)
        and (query.kind is None or record.kind == query.kind)
        and (query.filename is None or record.filename == query.filename)
    ]
    chosen.sort(key=sort_key)
    if query.before is not None:
        ids = [record.id for record in chosen]
        start = ids.index(query.before) + 1 if query.before in ids else len(ids)
        chosen = chosen[start:]
    if query.limit is not None:
        chosen = chosen[: query.limit]
    return chosen


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

    def __init__(self, kv: KeyValue, revision_cache_size: int = 20_000) -> None:
        self._kv = kv
        self._revisions: OrderedDict[str, tuple[TaskRecord, int]] = OrderedDict()
        self._cache_size = revision_cache_size
        self._view: dict[str, ViewEntry] | None = None
        self._view_task: asyncio.Task[None] | None = None
        self._view_ready = asyncio.Event()

    @classmethod
    async def open(cls, js: JetStreamContext) -> KvTaskStore:
        """Bind to the provisioned `tasks` bucket."""
        return cls(await js.key_value(subjects.TASKS_BUCKET))

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
                self._forget(task_id)
                continue
            self._remember(record, new_revision)
            return record
        raise ConflictingUpdate(task_id, MAX_UPDATE_ATTEMPTS)

    async def delete(self, task_id: str) -> None:
        """Remove a record; raise TaskNotFound when there is none."""
        await self._fetch(task_id)
        await self._kv.purge(task_id)
        self._forget(task_id)
        if self._view is not None:
            self._view.pop(task_id, None)

    async def list(self, query: TaskQuery) -> list[TaskRecord]:
        """Records matching the query, newest upload first."""
        if self._view is not None:
            await self._view_ready.wait()
            records = [entry.decoded(key) for key, entry in self._view.items()]
            records = [record for record in records if record is not None]
        else:
            records = await self._scan()
        return apply_query(records, query)

    async def start_view(self) -> None:
        """Keep every record in memory from now on, fed by a KV watch."""
        if self._view_task is not None:
            return
        self._view = {}
        watcher = await self._kv.watchall()
        self._view_task = asyncio.create_task(self._follow(watcher), name="task-view")
        await self._view_ready.wait()
        logger.info("task view loaded with %d records", len(self._view))

    async def close(self) -> None:
        """Stop the live view, if any."""
        if self._view_task is not None:
            self._view_task.cancel()
            await asyncio.gather(self._view_task, return_exceptions=True)
            self._view_task = None

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        assert self._view is not None
        try:
            async for entry in watcher:
                if entry is None:
                    self._view_ready.set()
                    continue
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    self._view.pop(entry.key, None)
                    continue
                known = self._view.get(entry.key)
                if known is None or known.revision < entry.revision:
                    # Decoded only when read: most versions are never listed.
                    self._view[entry.key] = ViewEntry(entry.revision, raw=entry.value)
        finally:
            await watcher.stop()

    async def _scan(self) -> list[TaskRecord]:
        watcher = await self._kv.watchall(ignore_deletes=True)
        records: list[TaskRecord] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                try:
                    records.append(TaskRecord.decode(entry.value))
                except MalformedMessage as error:
                    logger.warning("skipping task record %s: %s", entry.key, error)
        finally:
            await watcher.stop()
        return records

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
        # Hand out a copy: a change that fails to land must not leak into the
        # cache the next attempt starts from.
        known = self._revisions.get(task_id)
        if known is None and self._view is not None and task_id in self._view:
            entry = self._view[task_id]
            viewed = entry.decoded(task_id)
            known = (viewed, entry.revision) if viewed is not None else None
        if known is None:
            return None
        record, revision = known
        return record.copy(), revision

    def _remember(self, record: TaskRecord, revision: int) -> None:
        snapshot = record.copy()
        self._revisions[record.id] = (snapshot, revision)
        self._revisions.move_to_end(record.id)
        while len(self._revisions) > self._cache_size:
            self._revisions.popitem(last=False)
        if self._view is not None:
            known = self._view.get(record.id)
            if known is None or known.revision < revision:
                self._view[record.id] = ViewEntry(revision, record=snapshot)

    def _forget(self, task_id: str) -> None:
        self._revisions.pop(task_id, None)
