"""Aggregates: /api/v1/stats and the prototype's dashboard routes."""

import uuid

import pytest

from bus import subjects
from bus.errors import FileMissing
from bus.file_store import FileStore
from tests.factories import task_record
from tests.web.helpers import stored_task, upload_one
from web import aggregates

PNG = "image/png"


def done(task_id: str, tier: str, total_ms: float, completed_at: float, **fields):
    """A completed task record."""
    return task_record(
        id=task_id,
        status="completed",
        tier=tier,
        total_ms=total_ms,
        completed_at=completed_at,
        **fields,
    )


def test_latency_summary_uses_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]

    summary = aggregates.latency_summary(values)

    assert summary == {"count": 100, "mean": 50.5, "p50": 50.0, "p95": 95.0}
    assert aggregates.latency_summary([]) == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p95": None,
    }


def test_the_timeline_has_sixty_aligned_buckets_ending_with_the_current_one():
    now = 1_000_005.0
    records = [
        done("a", "edge", 100.0, now - 1),
        done("b", "edge", 300.0, now - 2),
        done("c", "cloud", 50.0, now - 12),
        done("old", "cloud", 50.0, now - 10_000),
    ]

    timeline = aggregates.timeline(records, now, bucket_s=10)

    assert len(timeline) == 60
    assert timeline[-1]["t"] == 1_000_000
    assert timeline[0]["t"] == 1_000_000 - 590
    assert timeline[-1]["completed"] == {"edge": 2, "cloud": 0}
    assert timeline[-1]["mean_total_ms"] == {"edge": 200.0, "cloud": None}
    assert timeline[-2]["completed"] == {"edge": 0, "cloud": 1}
    assert sum(b["completed"]["cloud"] for b in timeline) == 1


def test_size_against_time_lists_the_newest_completions_first_up_to_a_limit():
    records = [done(str(n), "edge", 10.0 * n, float(n), size=n) for n in range(10)]

    latest = aggregates.size_vs_time(records, limit=3)

    assert [item["id"] for item in latest] == ["9", "8", "7"]
    assert latest[0] == {
        "id": "9",
        "filename": "a.png",
        "size": 9,
        "total_ms": 90.0,
        "tier": "edge",
        "kind": "image",
    }


def test_file_types_count_extensions_content_types_and_kinds():
    records = [
        task_record(id="1", filename="A.PNG"),
        task_record(id="2", filename="b.png"),
        task_record(
            id="3", filename="clip.mp4", kind="video", content_type="video/mp4"
        ),
        task_record(id="4", filename="noext"),
    ]

    counts = aggregates.file_types(records)

    assert counts["by_extension"] == {"(none)": 1, "mp4": 1, "png": 2}
    assert counts["by_content_type"] == {"image/png": 3, "video/mp4": 1}
    assert counts["by_kind"] == {"image": 3, "video": 1}


async def test_stats_answers_the_whole_contract(client, js):
    await stored_task(js, b"in", output=b"out")
    await stored_task(js, b"in", output=b"out", tier="cloud", total_ms=500.0)
    await stored_task(js, b"in", status="failed")

    response = await client.get("/api/v1/stats?bucket_s=5")

    assert response.status == 200
    stats = await response.json()
    assert stats["total"] >= 3
    assert set(stats["by_status"]) == {
        "uploaded",
        "scheduled",
        "placed",
        "running",
        "completed",
        "failed",
        "cancelled",
    }
    assert stats["by_status"]["completed"] >= 2
    assert stats["by_tier"]["edge"] >= 1 and stats["by_tier"]["cloud"] >= 1
    assert stats["by_kind"]["image"] >= 3
    assert stats["latency_ms"]["cloud"]["count"] >= 1
    assert set(stats["latency_ms"]["edge"]) == {"count", "mean", "p50", "p95"}
    assert len(stats["timeline"]) == 60
    assert stats["timeline"][1]["t"] - stats["timeline"][0]["t"] == 5
    assert sum(b["completed"]["edge"] for b in stats["timeline"]) >= 1
    assert {"id", "size", "total_ms", "tier", "kind"} <= set(stats["size_vs_time"][0])


@pytest.mark.parametrize("bucket", ["0", "-1", "ten", "1.5", "86401"])
async def test_a_bad_bucket_size_is_a_400(client, bucket):
    response = await client.get(f"/api/v1/stats?bucket_s={bucket}")

    assert response.status == 400
    assert (await response.json())["field"] == "bucket_s"


async def test_the_dashboard_routes_count_the_same_tasks(client, js):
    edge = await stored_task(js, b"in", output=b"out")
    await stored_task(js, b"in", filename="clip.webm", kind="video", tier="cloud")
    stats = await (await client.get("/api/v1/stats")).json()

    tiers = await (await client.get("/computed_at_count")).json()
    types = await (await client.get("/filetype_count")).json()
    sizes = await (await client.get("/file_sizes_with_time")).json()
    details = await (await client.get(f"/filedetails/{edge.id}")).json()
    one = await (await client.get(f"/api/v1/tasks/{edge.id}")).json()

    assert tiers == stats["by_tier"]
    assert types["by_kind"] == stats["by_kind"]
    assert types["by_extension"]["webm"] >= 1
    mine = [item for item in sizes if item["id"] == edge.id]
    assert mine == [
        {
            "id": edge.id,
            "filename": "a.png",
            "size": 2,
            "total_ms": 1500.0,
            "tier": "edge",
            "kind": "image",
        }
    ]
    assert details == one


async def test_filedetails_of_an_unknown_task_is_a_404(client):
    response = await client.get(f"/filedetails/{uuid.uuid4().hex}")

    assert response.status == 404


async def test_delete_all_removes_every_task_and_its_files(client, js, media_dir):
    photo = (media_dir / "chelsea.png").read_bytes()
    uploaded = await upload_one(client, ("a.png", photo, PNG))
    completed = await stored_task(js, b"in", output=b"out")

    response = await client.delete("/delete-all")

    assert response.status == 200
    assert (await response.json())["deleted"] >= 2
    listing = await (await client.get("/api/v1/tasks")).json()
    assert listing["total"] == 0
    files = FileStore(js)
    for name in (
        subjects.input_object(uploaded["id"]),
        subjects.input_object(completed.id),
        subjects.output_object(completed.id),
    ):
        with pytest.raises(FileMissing):
            await files.info(name)
    assert (await (await client.delete("/delete-all")).json()) == {"deleted": 0}
