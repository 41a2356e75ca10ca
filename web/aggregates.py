"""The prototype's dashboard figures over task records.

The figures of /api/v1/stats are the store's (`bus.task_stats` in memory, a
MongoDB aggregation there); the helpers are re-exported here for the
dashboard routes, which add counts by tier and by file type.
"""

from collections.abc import Iterable
from pathlib import PurePosixPath

from bus.schemas import TIERS, TaskRecord
from bus.task_stats import (
    KINDS,
    completed,
    count_by,
    latency_summary,
    size_vs_time,
    stats,
    timeline,
)

NO_EXTENSION = "(none)"

__all__ = [
    "by_tier",
    "completed",
    "extension",
    "file_types",
    "latency_summary",
    "size_vs_time",
    "stats",
    "timeline",
]


def by_tier(records: Iterable[TaskRecord]) -> dict[str, int]:
    """Tasks placed on each tier: {"edge": n, "cloud": n}."""
    return count_by(records, lambda r: r.tier, TIERS)


def extension(record: TaskRecord) -> str:
    """The lower-case suffix of a task's filename, without the dot."""
    suffix = PurePosixPath(record.filename.replace("\\", "/")).suffix
    return suffix[1:].lower() or NO_EXTENSION


def file_types(records: list[TaskRecord]) -> dict[str, dict[str, int]]:
    """Tasks per filename extension, per declared content type and per kind."""
    return {
        "by_extension": count_by(records, extension),
        "by_content_type": count_by(records, lambda r: r.content_type),
        "by_kind": count_by(records, lambda r: r.kind, KINDS),
    }
