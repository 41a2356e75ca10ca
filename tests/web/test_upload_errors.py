"""Every bad upload gets a 4xx JSON answer naming the problem, and stores nothing."""

import pytest

from tests.web.helpers import form, object_messages, upload

PNG = "image/png"


@pytest.fixture
async def photo(media_dir) -> bytes:
    """A small real photo."""
    return (media_dir / "chelsea.png").read_bytes()


async def tasks_count(client) -> int:
    listed = await (await client.get("/api/v1/tasks?limit=1000")).json()
    return len(listed["tasks"])


async def test_a_request_without_a_body_is_a_400(client):
    response = await client.post("/api/v1/tasks")

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "files"
    assert "multipart/form-data" in body["error"]


async def test_a_multipart_body_without_file_parts_is_a_400(client):
    response = await upload(client, fields={"operation": "grayscale"})

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "files"
    assert "no files" in body["error"]


async def test_a_malformed_multipart_body_is_a_400(client):
    response = await client.post(
        "/upload",
        data=b"this is not multipart",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )

    assert response.status == 400
    assert "malformed" in (await response.json())["error"]


async def test_an_empty_file_is_a_400_and_nothing_is_stored(client, js, photo):
    before = await object_messages(js)
    tasks_before = await tasks_count(client)

    response = await upload(
        client,
        ("good.png", photo, PNG),
        ("empty.png", b"", PNG),
        fields={"operation": "grayscale"},
    )

    assert response.status == 400
    body = await response.json()
    assert "'empty.png' is empty" in body["error"]
    assert await object_messages(js) == before
    assert await tasks_count(client) == tasks_before


async def test_an_unsupported_type_is_a_415_naming_the_supported_types(client):
    response = await upload(
        client, ("notes.txt", b"hello", "text/plain"), fields={"operation": "grayscale"}
    )

    assert response.status == 415
    body = await response.json()
    assert "image/png" in body["supported"]
    assert "video/mp4" in body["supported"]
    assert "image/png" in body["error"]


@pytest.mark.parametrize("fields_first", [False, True])
async def test_an_unknown_operation_is_a_400_listing_the_valid_ones(
    client, js, photo, fields_first
):
    before = await object_messages(js)
    if fields_first:
        body = form(fields={"operation": "explode"})
        body.add_field("files", photo, filename="a.png", content_type=PNG)
        response = await client.post("/api/v1/tasks", data=body)
    else:
        response = await upload(
            client, ("a.png", photo, PNG), fields={"operation": "explode"}
        )

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "operation"
    assert "grayscale" in body["valid"]
    assert "grayscale" in body["error"]
    assert await object_messages(js) == before


async def test_a_missing_operation_is_a_400_listing_the_valid_ones(client, js, photo):
    before = await object_messages(js)

    response = await upload(client, ("a.png", photo, PNG))

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "operation"
    assert "resize" in body["valid"]
    assert await object_messages(js) == before


async def test_a_video_operation_on_a_photo_is_a_400(client, photo):
    response = await upload(
        client, ("a.png", photo, PNG), fields={"operation": "transcode"}
    )

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "operation"
    assert "transcode" not in body["valid"]
    assert "grayscale" in body["valid"]


async def test_a_bad_parameter_value_is_a_400_naming_the_field(client, photo):
    response = await upload(
        client, ("a.png", photo, PNG), fields={"operation": "resize", "width": "-5"}
    )

    assert response.status == 400
    body = await response.json()
    assert body["field"] == "width"
    assert "width" in body["error"]


async def test_an_unknown_parameter_is_a_400_naming_it(client, photo):
    response = await upload(
        client, ("a.png", photo, PNG), fields={"operation": "blur", "colour": "red"}
    )

    assert response.status == 400
    assert (await response.json())["field"] == "colour"


async def test_params_that_are_not_a_json_object_are_a_400(client, photo):
    response = await upload(
        client, ("a.png", photo, PNG), fields={"operation": "blur", "params": "[1]"}
    )

    assert response.status == 400
    assert (await response.json())["field"] == "params"


async def test_a_schedule_flag_that_is_not_yes_or_no_is_a_400(client, photo):
    response = await upload(
        client,
        ("a.png", photo, PNG),
        fields={"operation": "blur", "schedule": "perhaps"},
    )

    assert response.status == 400
    assert (await response.json())["field"] == "schedule"


async def test_too_many_files_is_a_400(make_client, js, photo):
    client = await make_client(max_files_per_request=2)
    before = await object_messages(js)
    files = [(f"{n}.png", photo, PNG) for n in range(3)]

    response = await upload(client, *files, fields={"operation": "grayscale"})

    assert response.status == 400
    assert "at most 2" in (await response.json())["error"]
    assert await object_messages(js) == before


async def test_a_file_over_the_limit_is_a_413_and_nothing_is_stored(
    make_client, js, photo
):
    client = await make_client(max_upload_bytes=100_000)
    before = await object_messages(js)
    tasks_before = await tasks_count(client)
    big = b"\0" * 1_000_000

    response = await upload(
        client,
        ("small.png", photo[:50_000], PNG),
        ("big.png", big, PNG),
        fields={"operation": "grayscale"},
    )

    assert response.status == 413
    body = await response.json()
    assert "big.png" in body["error"]
    assert body["limit_bytes"] == 100_000
    assert response.headers.get("Connection", "").lower() == "close"
    assert await object_messages(js) == before
    assert await tasks_count(client) == tasks_before


async def test_a_request_too_large_to_be_worth_reading_is_refused_up_front(
    make_client, js
):
    client = await make_client(max_upload_bytes=100_000, max_files_per_request=1)
    before = await object_messages(js)

    response = await upload(
        client, ("big.png", b"\0" * 3_000_000, PNG), fields={"operation": "grayscale"}
    )

    assert response.status == 413
    assert "request" in (await response.json())["error"]
    assert await object_messages(js) == before
