"""How task records look in MongoDB, and the queries and indexes over them.

Plain data only (no driver import), so the mapping can be read and tested
without a server. One document per task: the record's own fields, `_id` the
task id, and a few fields of the store's own, all starting with `_`:

- `_rev`: a counter every write moves on; updates are conditional on it;
- `_listed_at`: the upload time (0 when unknown), the listing order's key;
- `_files`: where the task's bytes are, in the NATS object store;
- `_kv_rev`: only on documents copied by `offload migrate`, the KV revision
  they were copied at; the first write through the store drops it.
"""

from typing import Any

from bus import subjects
from bus.schemas import TaskRecord
from bus.task_store import SortKey, TaskQuery

COLLECTION = "tasks"
DEFAULT_DATABASE = "offload"

REVISION = "_rev"
LISTED_AT = "_listed_at"
FILES = "_files"
KV_REVISION = "_kv_rev"
STORE_FIELDS = frozenset({"_id", REVISION, LISTED_AT, FILES, KV_REVISION})

FILTER_FIELDS = ("status", "tier", "kind", "filename")

LISTING_SORT: list[tuple[str, int]] = [(LISTED_AT, -1), ("_id", 1)]
"""Newest upload first, ties by id: the order of `bus.task_store.sort_key`."""

INDEXES: dict[str, list[tuple[str, int]]] = {
    "listing": LISTING_SORT,
    **{f"{name}_listing": [(name, 1), *LISTING_SORT] for name in FILTER_FIELDS},
    "status_scheduled_at": [("status", 1), ("scheduled_at", 1)],
    "status_completed_at": [("status", 1), ("completed_at", -1), *LISTING_SORT],
}
"""Index name -> keys: the listing order alone and under each filter the API
offers (status, tier, kind, filename), scheduled tasks by the time they were
scheduled, and completed tasks newest first (the stats route)."""


def to_document(
    record: TaskRecord, revision: int, kv_revision: int | None = None
) -> dict[str, Any]:
    """The MongoDB document of a record at a revision."""
    document = record.to_wire()
    document["_id"] = document.pop("id")
    document[REVISION] = revision
    document[LISTED_AT] = float(record.uploaded_at or 0.0)
    document[FILES] = files_of(record)
    if kv_revision is not None:
        document[KV_REVISION] = kv_revision
    return document


def files_of(record: TaskRecord) -> dict[str, str | None]:
    """Where the task's input and (once completed) output bytes are stored."""
    output = subjects.output_object(record.id) if record.status == "completed" else None
    return {
        "bucket": subjects.FILES_BUCKET,
        "input": subjects.input_object(record.id),
        "output": output,
    }


def from_document(document: dict[str, Any]) -> TaskRecord:
    """The record a document holds; raise MalformedMessage if it is not one."""
    wire = {key: value for key, value in document.items() if key not in STORE_FIELDS}
    wire["id"] = document.get("_id")
    return TaskRecord.from_wire(wire)


def revision_of(document: dict[str, Any]) -> int:
    """The document's write counter; 0 when it has none (written by hand)."""
    revision = document.get(REVISION)
    if isinstance(revision, bool) or not isinstance(revision, int | float):
        return 0
    # A shell writes numbers as doubles: 3.0 is revision 3.
    if isinstance(revision, float) and not revision.is_integer():
        return 0
    return int(revision)


def revision_condition(revision: int) -> dict[str, Any]:
    """The filter that matches a document only while it is at `revision`."""
    if revision == 0:
        return {REVISION: {"$in": [None, 0]}}
    return {REVISION: revision}


def query_filter(query: TaskQuery) -> dict[str, Any]:
    """The filter of a query's field conditions (no cursor)."""
    return {
        name: value
        for name in FILTER_FIELDS
        if (value := getattr(query, name)) is not None
    }


def after_position(position: SortKey) -> dict[str, Any]:
    """Documents after a listing position: older, or as old with a greater id."""
    negated_time, task_id = position
    listed_at = -negated_time
    # A range on the index's first key plus a small residual test: the
    # equivalent $or would not bound the index scan as tightly.
    return {
        LISTED_AT: {"$lte": listed_at},
        "$nor": [{LISTED_AT: listed_at, "_id": {"$lte": task_id}}],
    }


def position_of(document: dict[str, Any]) -> SortKey:
    """A document's position in the listing order."""
    return (-float(document.get(LISTED_AT) or 0.0), str(document["_id"]))
