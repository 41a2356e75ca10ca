"""Copying task records from the embedded KV store into MongoDB.

Every record is read from the `tasks` bucket with its revision, mapped to the
document the MongoDB store writes (plus the KV revision it came from) and
written in batches. Running it again is safe: what is already in MongoDB is
kept unless it is an earlier copy that nobody has changed since.
"""

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import bson
from bson.errors import InvalidDocument

from bus.errors import MalformedMessage
from bus.mongo_documents import to_document
from bus.schemas import TaskRecord
from bus.task_store import KvTaskStore, StoredEntry

logger = logging.getLogger(__name__)

Document = dict[str, Any]
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class MigratedBatch:
    """What writing one batch into MongoDB did."""

    copied: int
    """Records that were not in MongoDB yet."""
    refreshed: int
    """Earlier copies replaced by a newer KV revision."""
    kept: int
    """Already there: the same revision, or changed in MongoDB since."""


class MigrationTarget(Protocol):
    """Where migrated documents go (the MongoDB store)."""

    async def upsert_migrated(self, documents: list[Document]) -> MigratedBatch:
        """Insert what is missing, refresh untouched earlier copies."""


@dataclass
class MigrationReport:
    """Counts of a migration, as it goes."""

    read: int = 0
    malformed: int = 0
    unstorable: int = 0
    mapped: int = 0
    copied: int = 0
    refreshed: int = 0
    kept: int = 0

    @property
    def skipped(self) -> int:
        """Records that could not be copied."""
        return self.malformed + self.unstorable

    def add(self, batch: MigratedBatch) -> None:
        """Count one written batch."""
        self.copied += batch.copied
        self.refreshed += batch.refreshed
        self.kept += batch.kept


def migration_document(entry: StoredEntry) -> Document:
    """The MongoDB document for one KV entry; raise MalformedMessage if bad."""
    record = TaskRecord.decode(entry.raw)
    if record.id != entry.key:
        raise MalformedMessage(f"record id {record.id!r} under key {entry.key!r}")
    # The KV revision doubles as the first MongoDB revision: a later copy of
    # a newer KV revision then always moves the counter forward.
    return to_document(record, revision=entry.revision, kv_revision=entry.revision)


def unstorable_reason(document: Document) -> str | None:
    """Why MongoDB could not store a document (BSON cannot hold it), or None."""
    try:
        bson.encode(document)
    except (InvalidDocument, OverflowError) as error:
        return str(error)
    return None


async def read_batches(
    source: KvTaskStore, batch_size: int, report: MigrationReport
) -> AsyncIterator[list[Document]]:
    """The documents to write, `batch_size` at a time; bad records are counted."""
    batch: list[Document] = []
    async for entry in source.entries():
        report.read += 1
        try:
            document = migration_document(entry)
        except MalformedMessage as error:
            report.malformed += 1
            logger.warning("not migrating task %s: %s", entry.key, error)
            continue
        reason = unstorable_reason(document)
        if reason is not None:
            report.unstorable += 1
            logger.warning("not migrating task %s: %s", entry.key, reason)
            continue
        report.mapped += 1
        batch.append(document)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


async def migrate(
    source: KvTaskStore,
    target: MigrationTarget | None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[MigrationReport], None] | None = None,
) -> MigrationReport:
    """Copy every record of `source` into `target` (None: only read and map)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    report = MigrationReport()
    async for batch in read_batches(source, batch_size, report):
        if target is not None:
            report.add(await target.upsert_migrated(batch))
        if progress is not None:
            progress(report)
    logger.info(
        "migration read %d records: %d copied, %d refreshed, %d kept, %d skipped",
        report.read,
        report.copied,
        report.refreshed,
        report.kept,
        report.skipped,
    )
    return report
