"""Uploads that succeed: records, stored bytes, operation spellings, browser posts."""

import hashlib

from bus import subjects
from bus.file_store import FileStore
from tests.web.helpers import form, upload, upload_one


async def test_uploaded_photo_becomes_an_uploaded_task_with_its_size_and_digest(
    client, media_dir, js
):
    data = (media_dir / "astronaut.png").read_bytes()

    response = await upload(
        client, ("astronaut.png", data, "image/png"), fields={"operation": "grayscale"}
    )

    assert response.status == 201
    body = await response.json()
    assert body["scheduled"] == 0
    [task] = body["tasks"]
    assert task["filename"] == "astronaut.png"
    assert task["kind"] == "image"
    assert task["content_type"] == "image/png"
    assert task["status"] == "uploaded"
    assert task["size"] == len(data)
    assert task["sha256"] == hashlib.sha256(data).hexdigest()
    assert task["operation"] == {"name": "grayscale", "params": {}}
    assert task["uploaded_at"] > 0
    stored = await FileStore(js).read_bytes(subjects.input_object(task["id"]))
    assert stored == data
    shown = await client.get(f"/api/v1/tasks/{task['id']}")
    assert (await shown.json())["sha256"] == task["sha256"]


async def test_many_files_in_one_request_become_one_task_each(client, media_dir):
    names = ["astronaut.png", "chelsea.png", "chelsea-pan.mp4"]
    files = [(name, (media_dir / name).read_bytes(), "") for name in names]

    response = await upload(client, *files, fields={"operation": "grayscale"})

    assert response.status == 201
    tasks = (await response.json())["tasks"]
    assert [task["filename"] for task in tasks] == names
    assert [task["size"] for task in tasks] == [len(data) for _, data, _ in files]
    assert [task["kind"] for task in tasks] == ["image", "image", "video"]
    assert len({task["id"] for task in tasks}) == 3
    # Video grayscale has a bitrate parameter; its default is filled in.
    assert tasks[2]["operation"]["params"]["bitrate"] > 0


async def test_conversion_type_is_an_alias_for_operation(client, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()

    response = await upload(
        client,
        ("chelsea.png", data, "image/png"),
        fields={"conversionType": "grayscale"},
        path="/upload",
    )

    assert response.status == 201
    [task] = (await response.json())["tasks"]
    assert task["operation"]["name"] == "grayscale"


async def test_params_may_come_as_a_json_object(client, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()

    task = await upload_one(
        client,
        ("chelsea.png", data, "image/png"),
        operation="resize",
        params='{"width": 100}',
    )

    assert task["operation"]["name"] == "resize"
    assert task["operation"]["params"]["width"] == 100


async def test_params_may_come_as_plain_form_fields(client, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()

    task = await upload_one(
        client, ("chelsea.png", data, "image/png"), operation="blur", radius="3.5"
    )

    assert task["operation"]["params"] == {"radius": 3.5}


async def test_fields_may_come_before_the_files(client, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()
    body = form(fields={"operation": "rotate", "degrees": "45"})
    body.add_field("file", data, filename="chelsea.png", content_type="image/png")

    response = await client.post("/api/v1/tasks", data=body)

    assert response.status == 201
    [task] = (await response.json())["tasks"]
    assert task["operation"]["params"]["degrees"] == 45.0


async def test_browser_form_post_is_redirected_to_the_page(client, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()
    body = form(("chelsea.png", data, "image/png"), fields={"operation": "edges"})

    response = await client.post(
        "/upload",
        data=body,
        headers={"Accept": "text/html,application/xhtml+xml"},
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == "/"
    listed = await (await client.get("/api/v1/tasks?limit=1")).json()
    assert listed["tasks"][0]["operation"]["name"] == "edges"
