"""Figures over many task records: counts, latency summaries, a timeline.

The embedded store computes them here from the records in memory; the MongoDB
store computes the same figures in the database and assembles them with the
helpers here, so both answer the stats route with the same shape and values.
"""

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bus.schemas import TASK_STATUSES, TIERS, TaskRecord

KINDS = ("image", "video")
TIMELINE_BUCKETS = 60
SIZE_VS_TIME_LIMIT = 500
PERCENTILES = (0.50, 0.95)

Cell = tuple[int, float]
"""How many completions a timeline bucket holds for a tier, and their total ms."""


def tally(
    counts: Iterable[tuple[str | None, int]], names: Iterable[str] = ()
) -> dict[str, int]:
    """Add up (value, count) pairs; `names` always appear, None never does."""
    totals: Counter[str] = Counter()
    for value, count in counts:
        if value is not None:
            totals[value] += count
    return {**dict.fromkeys(names, 0), **dict(sorted(totals.items()))}


def count_by(
    records: Iterable[TaskRecord],
    key: Callable[[TaskRecord], str | None],
    names: Iterable[str] = (),
) -> dict[str, int]:
    """How many records have each value of `key`; `names` always appear."""
    return tally(((key(record), 1) for record in records), names)


def completed(records: Iterable[TaskRecord]) -> list[TaskRecord]:
    """The completed tasks that know how long they took."""
    return [r for r in records if r.status == "completed" and r.total_ms is not None]


def nearest_rank(count: int, share: float) -> int:
    """The 1-based position of the `share` percentile among `count` values."""
    return max(math.ceil(share * count), 1)


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty list."""
    return ordered[nearest_rank(len(ordered), share) - 1]


def latency_figures(
    count: int, total_ms: float, p50: float | None, p95: float | None
) -> dict[str, Any]:
    """Count, mean, median and 95th percentile; null figures when empty."""
    if count == 0 or p50 is None or p95 is None:
        return {"count": 0, "mean": None, "p50": None, "p95": None}
    return {
        "count": count,
        "mean": round(total_ms / count, 3),
        "p50": round(p50, 3),
        "p95": round(p95, 3),
    }


def latency_summary(values_ms: list[float]) -> dict[str, Any]:
    """Count, mean, median and 95th percentile of some latencies."""
    if not values_ms:
        return latency_figures(0, 0.0, None, None)
    ordered = sorted(values_ms)
    return latency_figures(
        len(ordered),
        sum(ordered),
        percentile(ordered, PERCENTILES[0]),
        percentile(ordered, PERCENTILES[1]),
    )


def latency_by_tier(done: list[TaskRecord]) -> dict[str, dict[str, Any]]:
    """Latency summary of the completed tasks of each tier."""
    return {
        tier: latency_summary([r.total_ms or 0.0 for r in done if r.tier == tier])
        for tier in TIERS
    }


@dataclass(frozen=True)
class TimelineWindow:
    """The last `buckets` buckets of `bucket_s` seconds, the current one last."""

    first_start: float
    bucket_s: int
    buckets: int

    @classmethod
    def ending_at(
        cls, now: float, bucket_s: int, buckets: int = TIMELINE_BUCKETS
    ) -> "TimelineWindow":
        """The window whose last bucket holds `now`."""
        last_start = math.floor(now / bucket_s) * bucket_s
        return cls(last_start - (buckets - 1) * bucket_s, bucket_s, buckets)

    @property
    def end(self) -> float:
        """Where the last bucket ends."""
        return self.first_start + self.buckets * self.bucket_s

    def slot(self, at: float) -> int | None:
        """The bucket a completion time falls in, or None outside the window."""
        slot = math.floor((at - self.first_start) / self.bucket_s)
        return slot if 0 <= slot < self.buckets else None

    def rows(self, cells: Mapping[tuple[int, str], Cell]) -> list[dict[str, Any]]:
        """The timeline as the stats route shows it, from per-(slot, tier) cells."""
        return [
            {
                "t": self.first_start + slot * self.bucket_s,
                "completed": {
                    tier: cells.get((slot, tier), (0, 0.0))[0] for tier in TIERS
                },
                "mean_total_ms": {
                    tier: _mean(cells.get((slot, tier), (0, 0.0))) for tier in TIERS
                },
            }
            for slot in range(self.buckets)
        ]


def _mean(cell: Cell) -> float | None:
    count, total_ms = cell
    return round(total_ms / count, 3) if count else None


def timeline(
    done: list[TaskRecord], now: float, bucket_s: int, buckets: int = TIMELINE_BUCKETS
) -> list[dict[str, Any]]:
    """Completions and mean latency per tier in the last `buckets` time buckets."""
    window = TimelineWindow.ending_at(now, bucket_s, buckets)
    cells: dict[tuple[int, str], Cell] = {}
    for record in done:
        if record.completed_at is None or record.tier not in TIERS:
            continue
        slot = window.slot(record.completed_at)
        if slot is not None:
            count, total_ms = cells.get((slot, record.tier), (0, 0.0))
            cells[slot, record.tier] = (count + 1, total_ms + (record.total_ms or 0.0))
    return window.rows(cells)


def size_point(record: TaskRecord) -> dict[str, Any]:
    """One completed task as the size-against-time chart plots it."""
    return {
        "id": record.id,
        "filename": record.filename,
        "size": record.size,
        "total_ms": record.total_ms,
        "tier": record.tier,
        "kind": record.kind,
    }


def size_vs_time(
    done: list[TaskRecord], limit: int | None = SIZE_VS_TIME_LIMIT
) -> list[dict[str, Any]]:
    """Size and latency of the latest completed tasks, newest first."""
    latest = sorted(done, key=lambda r: r.completed_at or 0.0, reverse=True)
    if limit is not None:
        latest = latest[:limit]
    return [size_point(r) for r in latest]


def summary(
    counts: list[tuple[str | None, str | None, str | None, int]],
    latency: dict[str, dict[str, Any]],
    bucket_s: int,
    timeline_rows: list[dict[str, Any]],
    latest: list[dict[str, Any]],
) -> dict[str, Any]:
    """The stats route's body from (status, tier, kind, count) rows and figures."""
    return {
        "total": sum(count for *_, count in counts),
        "by_status": tally(((s, n) for s, _, _, n in counts), TASK_STATUSES),
        "by_tier": tally(((t, n) for _, t, _, n in counts), TIERS),
        "by_kind": tally(((k, n) for _, _, k, n in counts), KINDS),
        "latency_ms": latency,
        "bucket_s": bucket_s,
        "timeline": timeline_rows,
        "size_vs_time": latest,
    }


def stats(records: list[TaskRecord], now: float, bucket_s: int) -> dict[str, Any]:
    """Everything GET /api/v1/stats answers, from records in listing order."""
    done = completed(records)
    counts = Counter((r.status, r.tier, r.kind) for r in records)
    return summary(
        [(status, tier, kind, n) for (status, tier, kind), n in counts.items()],
        latency_by_tier(done),
        bucket_s,
        timeline(done, now, bucket_s),
        size_vs_time(done),
    )
