"""Task records in MongoDB, on PyMongo's own asyncio API (`AsyncMongoClient`).

The same contract as the embedded store: updates are conditional on the
document's `_rev` counter (read, change, replace only if `_rev` is still what
was read, else read again), so concurrent writers never lose an update.
Listing, counting and the stats figures run in the database on indexes
(`bus.mongo_documents.INDEXES`). File bytes stay in the NATS object store;
each document names its objects.

The change feed is a MongoDB change stream, which needs a replica set (a
single-node one will do); everything else works on a standalone server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.change_stream import AsyncCollectionChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    ConfigurationError,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from bus import mongo_stats, task_stats
from bus.errors import (
    ConflictingUpdate,
    MalformedMessage,
    OffloadError,
    TaskExists,
    TaskNotFound,
)
from bus.mongo_documents import (
    COLLECTION,
    DEFAULT_DATABASE,
    INDEXES,
    KV_REVISION,
    LISTING_SORT,
    after_position,
    from_document,
    position_of,
    query_filter,
    revision_condition,
    revision_of,
    to_document,
)
from bus.revision_cache import DEFAULT_SIZE, RevisionCache
from bus.schemas import TaskRecord
from bus.store_migration import MigratedBatch
from bus.task_store import MAX_UPDATE_ATTEMPTS, Change, TaskChange, TaskQuery

logger = logging.getLogger(__name__)

Document = dict[str, Any]

SERVER_SELECTION_TIMEOUT_MS = 10_000
"""How long an operation waits for a usable server, unless the URL says."""
CHANGE_STREAMS_NEED_REPLICA_SET = 40573
"""The server's error code for a change stream asked of a standalone server."""
CHANGED = ("insert", "replace", "update")
GONE = ("drop", "dropDatabase", "rename", "invalidate")


class StoreUnavailable(OffloadError):
    """MongoDB could not be reached, or refused to set up the collection."""

    def __init__(self, where: str, error: Exception) -> None:
        # The driver appends its whole view of the topology: keep the cause.
        reason = str(error).split(" (configured timeouts", 1)[0]
        super().__init__(f"MongoDB at {where} is not usable: {reason}")


class ChangesUnavailable(OffloadError):
    """The server cannot report changes: change streams need a replica set."""

    def __init__(self) -> None:
        super().__init__(
            "MongoDB reports changes only on a replica set (a single-node one "
            "will do: start mongod with --replSet and run rs.initiate() once)"
        )


class FeedEnded(OffloadError):
    """The change feed stopped because the collection itself went away."""

    def __init__(self, event: str) -> None:
        super().__init__(f"the tasks collection was affected by {event!r}")


def redacted(url: str) -> str:
    """A connection string fit for a log line: no user name or password."""
    scheme, separator, rest = url.partition("://")
    _, at, hosts = rest.rpartition("@")
    return f"{scheme}{separator}{'***@' if at else ''}{hosts}"


def new_client(url: str) -> AsyncMongoClient[Document]:
    """A client for `url`; raise pymongo's ConfigurationError if it is not one."""
    options: dict[str, Any] = {"appname": "offload"}
    if "serverselectiontimeoutms" not in url.lower():
        # Options given here override the URL's, so only fill in a default.
        options["serverSelectionTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
    return AsyncMongoClient(url, **options)


class MongoTaskStore:
    """Task records in one MongoDB collection (`tasks` of the chosen database)."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        tasks: AsyncCollection[Document],
        revision_cache_size: int = DEFAULT_SIZE,
    ) -> None:
        self._client = client
        self._tasks = tasks
        self._revisions = RevisionCache(revision_cache_size)

    @classmethod
    async def open(
        cls, url: str, database: str | None = None, collection: str = COLLECTION
    ) -> MongoTaskStore:
        """Connect, check the server answers, and make sure the indexes exist.

        The database is `database`, else the one named in the URL, else
        `offload`.
        """
        try:
            client = new_client(url)
        except ConfigurationError as error:
            raise ValueError(
                f"{redacted(url)} is not a usable MongoDB connection string: {error}"
            ) from None
        name = database or client.get_default_database(DEFAULT_DATABASE).name
        tasks = client[name][collection]
        try:
            await client.admin.command("ping")
            await ensure_indexes(tasks)
        except PyMongoError as error:
            await client.close()
            raise StoreUnavailable(redacted(url), error) from error
        logger.info(
            "task records in MongoDB at %s, collection %s.%s",
            redacted(url),
            name,
            collection,
        )
        return cls(client, tasks)

    async def create(self, record: TaskRecord) -> None:
        """Store a new record; raise TaskExists if the id is taken."""
        try:
            await self._tasks.insert_one(to_document(record, revision=1))
        except DuplicateKeyError:
            raise TaskExists(record.id) from None
        self._revisions.remember(record, 1)

    async def get(self, task_id: str) -> TaskRecord:
        """The current record; raise TaskNotFound when there is none."""
        record, _ = await self._fetch(task_id)
        return record

    async def update(self, task_id: str, change: Change) -> TaskRecord:
        """Apply `change` atomically and return the record as stored."""
        cached = self._revisions.recall(task_id)
        for _ in range(MAX_UPDATE_ATTEMPTS):
            record, revision = cached or await self._fetch(task_id)
            cached = None
            if not change(record):
                return record
            written = await self._tasks.replace_one(
                {"_id": task_id, **revision_condition(revision)},
                to_document(record, revision + 1),
            )
            if written.matched_count == 0:
                logger.debug("task %s changed concurrently; retrying", task_id)
                self._revisions.forget(task_id)
                continue
            self._revisions.remember(record, revision + 1)
            return record
        raise ConflictingUpdate(task_id, MAX_UPDATE_ATTEMPTS)

    async def delete(self, task_id: str) -> None:
        """Remove a record; raise TaskNotFound when there is none."""
        removed = await self._tasks.delete_one({"_id": task_id})
        self._revisions.forget(task_id)
        if removed.deleted_count == 0:
            raise TaskNotFound(task_id)

    async def list(self, query: TaskQuery) -> list[TaskRecord]:
        """Records matching the query, newest upload first, paged in the database."""
        if query.limit == 0:
            return []
        condition = query_filter(query)
        positions = [query.after] if query.after is not None else []
        if query.before is not None:
            # As in memory: a cursor id outside the filtered listing ends it.
            anchor = await self._tasks.find_one({**condition, "_id": query.before})
            if anchor is None:
                return []
            positions.append(position_of(anchor))
        if positions:
            condition = {**condition, **after_position(max(positions))}

        cursor = self._tasks.find(condition).sort(LISTING_SORT)
        if query.limit is not None:
            cursor = cursor.limit(query.limit)
        return decoded(await cursor.to_list())

    async def count(self, query: TaskQuery) -> int:
        """How many records match the query's filters (cursor and limit aside)."""
        return await self._tasks.count_documents(query_filter(query))

    async def stats(self, now: float, bucket_s: int) -> dict[str, Any]:
        """The figures of GET /api/v1/stats, computed by MongoDB."""
        window = task_stats.TimelineWindow.ending_at(now, bucket_s)
        latest = (
            self._tasks.find(mongo_stats.COMPLETED, mongo_stats.SIZE_PROJECTION)
            .sort(mongo_stats.SIZE_SORT)
            .limit(mongo_stats.SIZE_LIMIT)
        )
        counts, latency, cells, points = await asyncio.gather(
            self._aggregate(mongo_stats.COUNTS),
            self._aggregate(mongo_stats.LATENCY),
            self._aggregate(mongo_stats.timeline_pipeline(window)),
            latest.to_list(),
        )
        return task_stats.summary(
            mongo_stats.count_rows(counts),
            mongo_stats.latency_by_tier(latency),
            bucket_s,
            window.rows(mongo_stats.timeline_cells(cells)),
            mongo_stats.size_points(points),
        )

    @contextlib.asynccontextmanager
    async def changes(self) -> AsyncIterator[AsyncIterator[TaskChange]]:
        """Follow every change to the collection from now on (a change stream)."""
        try:
            stream = await self._tasks.watch(full_document="updateLookup")
        except OperationFailure as error:
            if error.code == CHANGE_STREAMS_NEED_REPLICA_SET:
                raise ChangesUnavailable() from error
            raise
        try:
            yield _read_changes(stream)
        finally:
            # The client may be closing already; the cursor dies with it.
            with contextlib.suppress(PyMongoError):
                await stream.close()

    async def start_view(self) -> None:
        """Nothing to load: every listing is a query on the indexes."""
        logger.info("task listings are served by MongoDB queries")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def upsert_migrated(self, documents: list[Document]) -> MigratedBatch:
        """Copy documents made by `offload migrate`, safely more than once.

        A missing record is inserted. An earlier copy is replaced only by a
        newer KV revision, and only while no write through the store has
        happened since (such a write drops `_kv_rev`), so running the
        migration again never undoes work done in MongoDB.
        """
        if not documents:
            return MigratedBatch(0, 0, 0)
        operations: list[UpdateOne | ReplaceOne] = []
        for document in documents:
            fields = {key: value for key, value in document.items() if key != "_id"}
            operations.append(
                UpdateOne(
                    {"_id": document["_id"]}, {"$setOnInsert": fields}, upsert=True
                )
            )
            newer = {
                "_id": document["_id"],
                KV_REVISION: {"$lt": document[KV_REVISION]},
            }
            operations.append(ReplaceOne(newer, document))
        result = await self._tasks.bulk_write(operations, ordered=True)
        copied, refreshed = result.upserted_count, result.modified_count
        return MigratedBatch(copied, refreshed, len(documents) - copied - refreshed)

    async def _fetch(self, task_id: str) -> tuple[TaskRecord, int]:
        document = await self._tasks.find_one({"_id": task_id})
        if document is None:
            raise TaskNotFound(task_id)
        record = from_document(document)
        revision = revision_of(document)
        self._revisions.remember(record, revision)
        return record, revision

    async def _aggregate(self, pipeline: list[Document]) -> list[Document]:
        cursor = await self._tasks.aggregate(pipeline, allowDiskUse=True)
        return await cursor.to_list()


async def ensure_indexes(tasks: AsyncCollection[Document]) -> None:
    """Create the indexes the queries need; existing identical ones are kept."""
    models = [IndexModel(keys, name=name) for name, keys in INDEXES.items()]
    await tasks.create_indexes(models)


def decoded(documents: list[Document]) -> list[TaskRecord]:
    """The records of some documents, skipping (and logging) malformed ones."""
    records = []
    for document in documents:
        try:
            records.append(from_document(document))
        except MalformedMessage as error:
            logger.warning("skipping task record %s: %s", document.get("_id"), error)
    return records


async def _read_changes(
    stream: AsyncCollectionChangeStream[Document],
) -> AsyncIterator[TaskChange]:
    async for event in stream:
        kind = event.get("operationType")
        if kind in GONE:
            raise FeedEnded(str(kind))
        task_id = str((event.get("documentKey") or {}).get("_id"))
        if kind == "delete":
            yield TaskChange(task_id)
            continue
        document = event.get("fullDocument")
        if kind not in CHANGED or document is None:
            # An update whose document was deleted before it could be looked
            # up: the delete follows.
            continue
        try:
            yield TaskChange(task_id, record=from_document(document))
        except MalformedMessage as error:
            logger.warning("not following task %s: %s", task_id, error)
