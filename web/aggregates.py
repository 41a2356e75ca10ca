"""Figures over many task records: counts, latency summaries, timelines.

Pure functions of a list of records (the live view's), shared by the
/api/v1/stats route and the prototype's dashboard routes.
"""

import math
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Any

from bus.schemas import TASK_STATUSES, TIERS, TaskRecord

KINDS = ("image", "video")
TIMELINE_BUCKETS = 60
SIZE_VS_TIME_LIMIT = 500
NO_EXTENSION = "(none)"


def count_by(
    records: Iterable[TaskRecord],
    key: Callable[[TaskRecord], str | None],
    names: Iterable[str] = (),
) -> dict[str, int]:
    """How many records have each value of `key`; `names` always appear."""
    counts = Counter(value for r in records if (value := key(r)) is not None)
    return {**dict.fromkeys(names, 0), **dict(sorted(counts.items()))}


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


def completed(records: Iterable[TaskRecord]) -> list[TaskRecord]:
    """The completed tasks that know how long they took."""
    return [r for r in records if r.status == "completed" and r.total_ms is not None]


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty list."""
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def latency_summary(values_ms: list[float]) -> dict[str, Any]:
    """Count, mean, median and 95th percentile; null figures when empty."""
    if not values_ms:
        return {"count": 0, "mean": None, "p50": None, "p95": None}
    ordered = sorted(values_ms)
    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 3),
        "p50": round(percentile(ordered, 0.50), 3),
        "p95": round(percentile(ordered, 0.95), 3),
    }


def latency_by_tier(done: list[TaskRecord]) -> dict[str, dict[str, Any]]:
    """Latency summary of the completed tasks of each tier."""
    return {
        tier: latency_summary([r.total_ms or 0.0 for r in done if r.tier == tier])
        for tier in TIERS
    }


def timeline(
    done: list[TaskRecord], now: float, bucket_s: int, buckets: int = TIMELINE_BUCKETS
) -> list[dict[str, Any]]:
    """Completions and mean latency per tier in the last `buckets` time buckets."""
    last_start = math.floor(now / bucket_s) * bucket_s
    first_start = last_start - (buckets - 1) * bucket_s
    latencies: list[dict[str, list[float]]] = [
        {tier: [] for tier in TIERS} for _ in range(buckets)
    ]
    for record in done:
        if record.completed_at is None or record.tier not in TIERS:
            continue
        slot = math.floor((record.completed_at - first_start) / bucket_s)
        if 0 <= slot < buckets:
            latencies[slot][record.tier].append(record.total_ms or 0.0)

    return [
        {
            "t": first_start + slot * bucket_s,
            "completed": {tier: len(values) for tier, values in tiers.items()},
            "mean_total_ms": {
                tier: round(sum(values) / len(values), 3) if values else None
                for tier, values in tiers.items()
            },
        }
        for slot, tiers in enumerate(latencies)
    ]


def size_vs_time(
    done: list[TaskRecord], limit: int | None = SIZE_VS_TIME_LIMIT
) -> list[dict[str, Any]]:
    """Size and latency of the latest completed tasks, newest first."""
    latest = sorted(done, key=lambda r: r.completed_at or 0.0, reverse=True)
    if limit is not None:
        latest = latest[:limit]
    return [
        {
            "id": r.id,
            "filename": r.filename,
            "size": r.size,
            "total_ms": r.total_ms,
            "tier": r.tier,
            "kind": r.kind,
        }
        for r in latest
    ]


def stats(records: list[TaskRecord], now: float, bucket_s: int) -> dict[str, Any]:
    """Everything GET /api/v1/stats answers."""
    done = completed(records)
    return {
        "total": len(records),
        "by_status": count_by(records, lambda r: r.status, TASK_STATUSES),
        "by_tier": by_tier(records),
        "by_kind": count_by(records, lambda r: r.kind, KINDS),
        "latency_ms": latency_by_tier(done),
        "bucket_s": bucket_s,
        "timeline": timeline(done, now, bucket_s),
        "size_vs_time": size_vs_time(done),
    }
