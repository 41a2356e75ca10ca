"""Downloads: the input until the task completes, then the output, streamed."""

import uuid

import pytest

from bus import subjects
from bus.errors import FileMissing
from bus.file_store import FileStore
from bus.task_store import KvTaskStore
from tests.web.helpers import upload_one

PNG = "image/png"


@pytest.fixture
async def photo(media_dir) -> bytes:
    """A real photo bigger than one object-store chunk."""
    return (media_dir / "astronaut.png").read_bytes()


async def complete(js, task_id: str, output: bytes) -> None:
    """Play the node's part: store an output and mark the task completed."""
    await FileStore(js).put_bytes(subjects.output_object(task_id), output)

    def change(record) -> bool:
        record.status = "completed"
        record.tier = "edge"
        record.output_name = "astronaut-grayscale.png"
        record.output_size = len(output)
        record.output_type = PNG
        return True

    await (await KvTaskStore.open(js)).update(task_id, change)


async def test_the_input_downloads_byte_for_byte(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    response = await client.get(f"/api/v1/tasks/{task['id']}/input")

    assert response.status == 200
    assert await response.read() == photo
    assert response.headers["Content-Type"] == PNG
    assert response.headers["Content-Length"] == str(len(photo))
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert 'filename="astronaut.png"' in disposition


async def test_download_1_asks_for_an_attachment_and_files_route_defaults_to_one(
    client, photo
):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    saved = await client.get(f"/api/v1/tasks/{task['id']}/input?download=1")
    prototype = await client.get(f"/files/{task['id']}")
    previewed = await client.get(f"/files/{task['id']}?download=false")

    assert saved.headers["Content-Disposition"].startswith("attachment;")
    assert prototype.headers["Content-Disposition"].startswith("attachment;")
    assert previewed.headers["Content-Disposition"].startswith("inline;")


async def test_files_route_serves_the_input_by_id_or_by_filename(client, photo):
    name = f"{uuid.uuid4().hex}.png"
    task = await upload_one(client, (name, photo, PNG))

    by_id = await client.get(f"/files/{task['id']}")
    by_name = await client.get(f"/files/{name}")

    assert await by_id.read() == photo
    assert await by_name.read() == photo


async def test_a_missing_output_is_a_404_json(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    forced = await client.get(f"/files/{task['id']}?version=output")
    api = await client.get(f"/api/v1/tasks/{task['id']}/output")

    assert forced.status == 404
    assert api.status == 404
    body = await api.json()
    assert body["field"] == "version"
    assert "no output yet" in body["error"]


async def test_a_bad_version_is_a_400(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    response = await client.get(f"/files/{task['id']}?version=latest")

    assert response.status == 400
    assert (await response.json())["field"] == "version"


async def test_a_completed_task_serves_its_output_unless_asked_for_the_input(
    client, js, photo
):
    task = await upload_one(client, ("astronaut.png", photo, PNG))
    output = b"\x89PNG pretend output" * 1000
    await complete(js, task["id"], output)

    default = await client.get(f"/files/{task['id']}")
    asked_input = await client.get(f"/files/{task['id']}?version=input")
    api_output = await client.get(f"/api/v1/tasks/{task['id']}/output")

    assert await default.read() == output
    assert (
        'filename="astronaut-grayscale.png"' in default.headers["Content-Disposition"]
    )
    assert await asked_input.read() == photo
    assert await api_output.read() == output


async def test_an_unknown_task_or_filename_is_a_404_json(client):
    for path in (
        "/files/no-such-file.png",
        "/api/v1/tasks/0123456789abcdef/input",
        "/computed_at/nothing",
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert "error" in await response.json()


async def test_delete_removes_the_record_and_both_objects(client, js, photo):
    files = FileStore(js)
    task = await upload_one(client, ("astronaut.png", photo, PNG))
    await complete(js, task["id"], b"output")

    response = await client.post(f"/files/del/{task['id']}")

    assert response.status == 200
    assert await response.json() == {"deleted": task["id"]}
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).status == 404
    for name in (subjects.input_object(task["id"]), subjects.output_object(task["id"])):
        with pytest.raises(FileMissing):
            await files.info(name)


async def test_delete_through_the_api_and_of_an_unknown_id(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    deleted = await client.delete(f"/api/v1/tasks/{task['id']}")
    again = await client.delete(f"/api/v1/tasks/{task['id']}")

    assert deleted.status == 200
    assert again.status == 404
    assert (await again.json())["field"] == "id"


async def test_a_download_flag_that_is_not_yes_or_no_is_a_400(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    response = await client.get(f"/api/v1/tasks/{task['id']}/input?download=maybe")

    assert response.status == 400
    assert (await response.json())["field"] == "download"


async def test_downloads_say_the_bytes_are_never_a_page(client, photo):
    task = await upload_one(client, ("astronaut.png", photo, PNG))

    response = await client.get(f"/api/v1/tasks/{task['id']}/input")

    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"] == f'"{task["sha256"]}"'


async def test_the_output_is_the_run_the_record_points_at_and_delete_removes_it(
    client, js, photo
):
    files = FileStore(js)
    task = await upload_one(client, ("astronaut.png", photo, PNG))
    counted = subjects.run_output_object(task["id"], 2, "1-ab12")
    await files.put_bytes(counted, b"the result that counted")
    # An older result under the name every task used before per-run names.
    await files.put_bytes(subjects.output_object(task["id"]), b"not this one")

    def change(record) -> bool:
        record.status = "completed"
        record.output_object = counted
        record.output_name = "astronaut-grayscale.png"
        record.output_type = PNG
        return True

    await (await KvTaskStore.open(js)).update(task["id"], change)

    output = await client.get(f"/api/v1/tasks/{task['id']}/output")
    shown = await (await client.get(f"/api/v1/tasks/{task['id']}")).json()
    deleted = await client.delete(f"/api/v1/tasks/{task['id']}")

    assert await output.read() == b"the result that counted"
    assert "output_object" not in shown
    assert deleted.status == 200
    assert await files.names(subjects.output_prefix(task["id"])) == []
