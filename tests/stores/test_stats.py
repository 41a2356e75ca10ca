"""The stats figures every store computes: counts, latency, timeline, sizes."""

import uuid

from bus import task_stats
from bus.schemas import TaskRecord
from bus.task_store import TaskQuery
from tests.factories import task_record

NOW = 1_000_005.0
BUCKET_S = 10


def done(tier: str | None, total_ms: float | None, ago_s: float, **fields):
    """A task completed `ago_s` before NOW, uploaded a minute before that."""
    return task_record(
        id=uuid.uuid4().hex,
        status="completed",
        tier=tier,
        total_ms=total_ms,
        completed_at=NOW - ago_s,
        uploaded_at=NOW - ago_s - 60,
        **fields,
    )


def other(status: str, tier: str | None, kind: str = "image") -> TaskRecord:
    """A task that is not completed."""
    return task_record(
        id=uuid.uuid4().hex, status=status, tier=tier, kind=kind, uploaded_at=NOW
    )


def sample() -> list[TaskRecord]:
    """Known latencies per tier, a bucket boundary, ties, and what is left out."""
    return [
        done("edge", 100.0, 1, size=11),
        done("edge", 200.0, 2, size=12),
        done("edge", 300.0, 15, size=13),  # exactly at the start of a bucket
        done("edge", 400.0, 700, size=14),  # before the timeline's window
        done("cloud", 50.0, 3, size=21, kind="video"),
        done("cloud", 150.0, 12, size=22),
        done("cloud", 150.0, 12, size=23),  # the same moment: listing order
        done(None, 10.0, 100, size=31),  # completed without a tier
        done("edge", None, 5, size=41),  # no latency: not counted as done
        other("failed", "edge"),
        other("uploaded", None, "video"),
        other("running", "cloud", "video"),
    ]


async def test_stats_count_summarize_and_bucket_as_worked_out_by_hand(store):
    records = sample()
    for record in records:
        await store.create(record)

    figures = await store.stats(NOW, BUCKET_S)

    assert figures["total"] == 12
    assert figures["by_status"] == {
        "uploaded": 1,
        "scheduled": 0,
        "placed": 0,
        "running": 1,
        "completed": 9,
        "failed": 1,
        "cancelled": 0,
    }
    assert figures["by_tier"] == {"edge": 6, "cloud": 4}
    assert figures["by_kind"] == {"image": 9, "video": 3}
    assert figures["latency_ms"] == {
        "edge": {"count": 4, "mean": 250.0, "p50": 200.0, "p95": 400.0},
        "cloud": {"count": 3, "mean": 116.667, "p50": 150.0, "p95": 150.0},
    }
    assert figures["bucket_s"] == BUCKET_S

    timeline = figures["timeline"]
    assert len(timeline) == 60
    assert [row["t"] for row in timeline[-2:]] == [999_990, 1_000_000]
    assert timeline[-1]["completed"] == {"edge": 2, "cloud": 1}
    assert timeline[-1]["mean_total_ms"] == {"edge": 150.0, "cloud": 50.0}
    assert timeline[-2]["completed"] == {"edge": 1, "cloud": 2}
    assert timeline[-2]["mean_total_ms"] == {"edge": 300.0, "cloud": 150.0}
    assert sum(sum(row["completed"].values()) for row in timeline) == 6

    sizes = [point["size"] for point in figures["size_vs_time"]]
    tied = sorted((r for r in records if r.size in (22, 23)), key=lambda r: r.id)
    assert sizes == [11, 12, 21, *(r.size for r in tied), 13, 31, 14]
    assert figures["size_vs_time"][0] == {
        "id": figures["size_vs_time"][0]["id"],
        "filename": "a.png",
        "size": 11,
        "total_ms": 100.0,
        "tier": "edge",
        "kind": "image",
    }


async def test_stats_equal_the_in_memory_figures_of_the_same_records(store):
    for record in sample():
        await store.create(record)
    listed = await store.list(TaskQuery())

    for now, bucket_s in ((NOW, BUCKET_S), (NOW + 3.5, 7), (NOW - 650, 60)):
        assert await store.stats(now, bucket_s) == task_stats.stats(
            listed, now, bucket_s
        )


async def test_stats_of_an_empty_store_are_zeros_and_nulls(store):
    figures = await store.stats(NOW, BUCKET_S)

    assert figures["total"] == 0
    assert set(figures["by_status"].values()) == {0}
    assert figures["latency_ms"]["edge"] == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p95": None,
    }
    assert all(
        row["completed"] == {"edge": 0, "cloud": 0} for row in figures["timeline"]
    )
    assert figures["size_vs_time"] == []
