"""The stats route's figures as MongoDB aggregations, and their assembly.

Each figure is computed where the records are; only small results travel:
(status, tier, kind) counts, two percentile documents per tier, one row per
timeline cell, and the latest completions for the size chart. They are put
together with `bus.task_stats`, so both stores answer alike: percentiles are
nearest-rank (a window numbers each tier's completions by latency and the
two ranks are picked), and timeline slots use the same float arithmetic.
"""

from typing import Any

from bus.mongo_documents import LISTING_SORT
from bus.schemas import TIERS
from bus.task_stats import (
    PERCENTILES,
    SIZE_VS_TIME_LIMIT,
    Cell,
    TimelineWindow,
    latency_figures,
    nearest_rank,
)

COMPLETED: dict[str, Any] = {"status": "completed", "total_ms": {"$ne": None}}
"""The completed tasks that know how long they took."""

WHOLE_PARTITION = {"documents": ["unbounded", "unbounded"]}

COUNTS: list[dict[str, Any]] = [
    {
        "$group": {
            "_id": {"status": "$status", "tier": "$tier", "kind": "$kind"},
            "count": {"$sum": 1},
        }
    }
]


def _rank(share: float) -> dict[str, Any]:
    # nearest_rank() in the database's own arithmetic.
    return {"$max": [{"$ceil": {"$multiply": [share, "$count"]}}, 1]}


LATENCY: list[dict[str, Any]] = [
    {"$match": {**COMPLETED, "tier": {"$in": list(TIERS)}}},
    {
        "$setWindowFields": {
            "partitionBy": "$tier",
            "sortBy": {"total_ms": 1},
            "output": {
                "position": {"$documentNumber": {}},
                "count": {"$count": {}, "window": WHOLE_PARTITION},
                "total": {"$sum": "$total_ms", "window": WHOLE_PARTITION},
            },
        }
    },
    {
        "$match": {
            "$expr": {"$in": ["$position", [_rank(share) for share in PERCENTILES]]}
        }
    },
    {
        "$project": {
            "_id": 0,
            "tier": 1,
            "total_ms": 1,
            "position": 1,
            "count": 1,
            "total": 1,
        }
    },
]

SIZE_SORT: list[tuple[str, int]] = [("completed_at", -1), *LISTING_SORT]
"""Latest completion first; ties in listing order, as the stable sort in memory."""
SIZE_PROJECTION = {"filename": 1, "size": 1, "total_ms": 1, "tier": 1, "kind": 1}
SIZE_LIMIT = SIZE_VS_TIME_LIMIT


def timeline_pipeline(window: TimelineWindow) -> list[dict[str, Any]]:
    """Completions and their summed latency per (bucket, tier) in the window."""
    slot = {
        "$floor": {
            "$divide": [
                {"$subtract": ["$completed_at", window.first_start]},
                window.bucket_s,
            ]
        }
    }
    # The range is a bucket wider on each side than the window, for the index;
    # the slot test after it decides exactly as TimelineWindow.slot does.
    near = {
        "$gte": window.first_start - window.bucket_s,
        "$lt": window.end + window.bucket_s,
    }
    return [
        {"$match": {**COMPLETED, "tier": {"$in": list(TIERS)}, "completed_at": near}},
        {"$project": {"_id": 0, "tier": 1, "total_ms": 1, "slot": slot}},
        {"$match": {"slot": {"$gte": 0, "$lt": window.buckets}}},
        {
            "$group": {
                "_id": {"slot": "$slot", "tier": "$tier"},
                "count": {"$sum": 1},
                "total": {"$sum": "$total_ms"},
            }
        },
    ]


def count_rows(
    documents: list[dict[str, Any]],
) -> list[tuple[str | None, str | None, str | None, int]]:
    """(status, tier, kind, count) from the COUNTS pipeline's output."""
    rows = []
    for document in documents:
        key = document.get("_id") or {}
        rows.append(
            (key.get("status"), key.get("tier"), key.get("kind"), document["count"])
        )
    return rows


def latency_by_tier(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each tier's latency figures from the LATENCY pipeline's output."""
    figures = {}
    for tier in TIERS:
        rows = [document for document in documents if document.get("tier") == tier]
        if not rows:
            figures[tier] = latency_figures(0, 0.0, None, None)
            continue
        count = int(rows[0]["count"])
        by_position = {int(row["position"]): row["total_ms"] for row in rows}
        low, high = (by_position.get(nearest_rank(count, s)) for s in PERCENTILES)
        figures[tier] = latency_figures(count, float(rows[0]["total"]), low, high)
    return figures


def timeline_cells(documents: list[dict[str, Any]]) -> dict[tuple[int, str], Cell]:
    """(slot, tier) -> (completions, summed ms) from the timeline pipeline."""
    cells: dict[tuple[int, str], Cell] = {}
    for document in documents:
        key = document["_id"]
        cells[int(key["slot"]), key["tier"]] = (
            int(document["count"]),
            float(document["total"]),
        )
    return cells


def size_points(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The size chart's points, in the shape `task_stats.size_point` gives."""
    return [
        {
            "id": document["_id"],
            "filename": document.get("filename"),
            "size": document.get("size"),
            "total_ms": document.get("total_ms"),
            "tier": document.get("tier"),
            "kind": document.get("kind"),
        }
        for document in documents
    ]
