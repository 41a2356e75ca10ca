"""Task queries: filters, cursor paging, one record, and where tasks ran."""

import uuid

import pytest

from bus.task_store import KvTaskStore
from tests.web.helpers import upload

PNG = "image/png"


@pytest.fixture
async def five_tasks(client, js, media_dir) -> tuple[str, list[dict]]:
    """Five tasks sharing one unique filename, uploaded in one request."""
    name = f"{uuid.uuid4().hex}.png"
    data = (media_dir / "chelsea.png").read_bytes()
    response = await upload(
        client, *[(name, data, PNG)] * 5, fields={"operation": "grayscale"}
    )
    assert response.status == 201
    return name, (await response.json())["tasks"]


async def set_tier(js, task_id: str, tier: str) -> None:
    """Play the coordinator's part: place a task on a tier."""

    def change(record) -> bool:
        record.status = "placed"
        record.tier = tier
        record.node_id = f"{tier}-1"
        return True

    await (await KvTaskStore.open(js)).update(task_id, change)


async def test_cursor_paging_visits_every_task_once_newest_first(client, five_tasks):
    name, tasks = five_tasks
    seen: list[str] = []
    cursor = ""

    for _ in range(3):
        response = await client.get(
            f"/api/v1/tasks?filename={name}&limit=2&cursor={cursor}"
        )
        assert response.status == 200
        page = await response.json()
        seen += [task["id"] for task in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert cursor is None
    # Uploaded together, they tie on time and are ordered by id.
    assert seen == sorted(task["id"] for task in tasks)


async def test_status_and_tier_filters_choose_matching_tasks(client, js, five_tasks):
    name, tasks = five_tasks
    await set_tier(js, tasks[0]["id"], "edge")
    await set_tier(js, tasks[1]["id"], "cloud")
    await client.post(f"/api/v1/tasks/{tasks[2]['id']}/schedule")

    async def ids(query: str) -> set[str]:
        response = await client.get(f"/api/v1/tasks?filename={name}&{query}")
        return {task["id"] for task in (await response.json())["tasks"]}

    assert await ids("tier=edge") == {tasks[0]["id"]}
    assert await ids("tier=cloud") == {tasks[1]["id"]}
    assert await ids("status=scheduled") == {tasks[2]["id"]}
    assert await ids("status=uploaded") == {tasks[3]["id"], tasks[4]["id"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("tier=moon", "tier"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("kind=audio", "kind"),
        ("cursor=!!!", "cursor"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=YWJjfGRlZg", "cursor"),
    ],
)
async def test_a_bad_listing_query_is_a_400_naming_the_field(client, query, field):
    response = await client.get(f"/api/v1/tasks?{query}")

    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_one_task_shows_its_public_record(client, five_tasks):
    _, tasks = five_tasks

    response = await client.get(f"/api/v1/tasks/{tasks[0]['id']}")

    assert response.status == 200
    body = await response.json()
    assert body == tasks[0]
    assert "v" not in body
    assert body["assigned_to"] is None


async def test_an_unknown_task_id_is_a_404_json(client):
    response = await client.get(f"/api/v1/tasks/{uuid.uuid4().hex}")

    assert response.status == 404
    body = await response.json()
    assert body["field"] == "id"
    assert "no task" in body["error"]


async def test_files_lists_every_task_newest_first(client, five_tasks):
    _, tasks = five_tasks

    listed = await (await client.get("/files")).json()

    ids = [task["id"] for task in listed]
    assert set(ids) >= {task["id"] for task in tasks}
    times = [task["uploaded_at"] for task in listed]
    assert times == sorted(times, reverse=True)


async def test_computed_at_shows_where_each_task_was_placed(client, js, five_tasks):
    _, tasks = five_tasks
    await set_tier(js, tasks[0]["id"], "edge")

    one = await (await client.get(f"/computed_at/{tasks[0]['id']}")).json()
    waiting = await (await client.get(f"/computed_at/{tasks[1]['id']}")).json()
    every = await (await client.get("/computed_at")).json()

    assert one == {
        "id": tasks[0]["id"],
        "filename": tasks[0]["filename"],
        "assigned_to": "edge",
        "computed_at": "edge",
        "status": "placed",
        "node_id": "edge-1",
    }
    assert waiting["assigned_to"] is None and waiting["computed_at"] is None
    assert one in every


async def test_the_listing_counts_every_match_beside_one_page(client, five_tasks):
    name, _ = five_tasks

    page = await (await client.get(f"/api/v1/tasks?filename={name}&limit=2")).json()

    assert len(page["tasks"]) == 2
    assert page["total"] == 5
    assert page["next_cursor"] is not None


async def test_the_kind_filter_separates_images_from_videos(client, js, media_dir):
    name = f"{uuid.uuid4().hex}.bin"
    clip = (media_dir / "chelsea-pan.mp4").read_bytes()
    photo = (media_dir / "chelsea.png").read_bytes()
    await upload(client, (name, clip, "video/mp4"), fields={"operation": "grayscale"})
    await upload(client, (name, photo, PNG), fields={"operation": "grayscale"})

    async def kinds(query: str) -> list[str]:
        response = await client.get(f"/api/v1/tasks?filename={name}&{query}")
        body = await response.json()
        assert body["total"] == len(body["tasks"])
        return [task["kind"] for task in body["tasks"]]

    assert await kinds("kind=video") == ["video"]
    assert await kinds("kind=image") == ["image"]
    assert sorted(await kinds("kind=")) == ["image", "video"]


async def test_paging_goes_on_after_the_last_task_of_a_page_is_deleted(
    client, five_tasks
):
    name, tasks = five_tasks
    first = await (await client.get(f"/api/v1/tasks?filename={name}&limit=2")).json()
    await client.delete(f"/api/v1/tasks/{first['tasks'][-1]['id']}")

    cursor = first["next_cursor"]
    rest = await client.get(f"/api/v1/tasks?filename={name}&cursor={cursor}")

    assert rest.status == 200
    ids = [task["id"] for task in (await rest.json())["tasks"]]
    assert ids == sorted(task["id"] for task in tasks)[2:]
