"""The hostile corpus pushed through the running system, one asserted outcome each.

A file the web service can refuse on sight gets a 4xx with a JSON error and
creates nothing. A file it must accept (its type is only known once decoded)
becomes a task that ends `failed` with a readable reason, or `completed`
where the content is in fact usable. Afterwards the nodes still serve, no
service logged an unexpected error, and every accepted task reached an end.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from bus.nats_server import free_port
from tests.e2e.system import wait_until, web_ready
from tests.hostile import corpus
from tests.hostile.conftest import (
    all_tasks,
    final_record,
    normal_task_completes,
    post_upload,
    services_alive,
    upload_form,
    upload_raw_task,
    upload_task,
)


@dataclass(frozen=True)
class Refused:
    """Refused at upload: this status, the field at fault, words in the error."""

    status: int
    field: str
    words: str


@dataclass(frozen=True)
class Failed:
    """Accepted, then the task fails with these words in its error."""

    words: str


@dataclass(frozen=True)
class Completed:
    """Accepted and processed: the content was usable after all."""

    output_type: str


@dataclass(frozen=True)
class Item:
    """One hostile upload: what is sent and what must come of it."""

    name: str
    make: Callable[[], bytes]
    filename: str
    operation: str
    expect: Refused | Failed | Completed
    content_type: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    disposition: bytes | None = None
    """Sent as the file part's Content-Disposition instead of `filename`."""


def _photo() -> bytes:
    return corpus.sample("chelsea.png")


def _clip() -> bytes:
    return corpus.sample("chelsea-pan.mp4")


REFUSED = [
    Item(
        "zero-byte file",
        lambda: b"",
        "empty.png",
        "grayscale",
        Refused(400, "files", "'empty.png' is empty"),
        "image/png",
    ),
    Item(
        "text file with a text type and name",
        corpus.text_file,
        "notes.txt",
        "grayscale",
        Refused(415, "files", "unsupported media"),
        "text/plain",
    ),
    Item(
        "unknown operation",
        _photo,
        "a.png",
        "explode",
        Refused(400, "operation", "unknown operation 'explode'"),
    ),
    Item(
        "video operation on a photo",
        _photo,
        "a.png",
        "transcode",
        Refused(400, "operation", "unknown operation 'transcode'"),
    ),
    Item(
        "param of the wrong type",
        _photo,
        "a.png",
        "resize",
        Refused(400, "width", "width must be an integer"),
        fields={"width": "wide"},
    ),
    Item(
        "param out of range",
        _photo,
        "a.png",
        "resize",
        Refused(400, "width", "at most 8192"),
        fields={"width": "100000"},
    ),
    Item(
        "boolean where a number belongs (JSON params)",
        _photo,
        "a.png",
        "blur",
        Refused(400, "radius", "radius must be a number"),
        fields={"params": json.dumps({"radius": True})},
    ),
    Item(
        "unknown parameter",
        _photo,
        "a.png",
        "grayscale",
        Refused(400, "../../etc", "unknown parameter"),
        fields={"params": json.dumps({"../../etc": "x"})},
    ),
    Item(
        "params that are not a JSON object",
        _photo,
        "a.png",
        "blur",
        Refused(400, "params", "params must be a JSON object"),
        fields={"params": "[1, 2]"},
    ),
    Item(
        "params nested 20,000 deep",
        _photo,
        "a.png",
        "blur",
        Refused(400, "params", "params must be a JSON object"),
        fields={"params": "[" * 20_000 + "]" * 20_000},
    ),
    Item(
        "video sheet wider than the side limit",
        _clip,
        "a.mp4",
        "thumbnail",
        Refused(400, "tile_width", "8192"),
        fields={"columns": "16", "tile_width": "1024"},
    ),
]

PROCESSED = [
    # Two ordinary files in the same batch: hostile neighbours cost them nothing.
    Item(
        "ordinary photo alongside the corpus",
        _photo,
        "ordinary.png",
        "grayscale",
        Completed("image/png"),
    ),
    Item(
        "ordinary clip alongside the corpus",
        _clip,
        "ordinary.mp4",
        "transcode",
        Completed("video/mp4"),
    ),
    Item(
        "truncated JPEG",
        lambda: corpus.truncated(corpus.sample_jpeg(), 0.5),
        "cut.jpg",
        "grayscale",
        Failed("cannot decode image: image file is truncated"),
    ),
    Item(
        "truncated PNG",
        lambda: corpus.truncated(_photo(), 0.5),
        "cut.png",
        "blur",
        Failed("cannot decode image: image file is truncated"),
    ),
    Item(
        "PNG with its image data overwritten",
        lambda: corpus.corrupted(_photo(), 0.5, 64),
        "corrupt.png",
        "grayscale",
        Failed("cannot decode image: unrecognized data stream"),
    ),
    Item(
        "JPEG with its header tables overwritten",
        lambda: corpus.corrupted(corpus.sample_jpeg(), 0.0005, 64),
        "corrupt-header.jpg",
        "grayscale",
        Failed("cannot decode image: broken data stream"),
    ),
    Item(
        # JPEG decoders conceal damaged scan data: the picture is usable.
        "JPEG with its scan data overwritten",
        lambda: corpus.corrupted(corpus.sample_jpeg(), 0.5, 64),
        "corrupt-scan.jpg",
        "grayscale",
        Completed("image/jpeg"),
    ),
    Item(
        "truncated MP4 (index lost)",
        lambda: corpus.truncated(_clip(), 0.5),
        "cut.mp4",
        "transcode",
        Failed("input is not a decodable video: invalid data"),
    ),
    Item(
        "MP4 with its frames overwritten",
        lambda: corpus.corrupted(_clip(), 0.5, 256),
        "corrupt.mp4",
        "transcode",
        Failed("cannot decode video: invalid data"),
    ),
    Item(
        "PNG decompression bomb (50,000 x 50,000 in 141 bytes)",
        corpus.png_bomb,
        "bomb.png",
        "grayscale",
        Failed("image is too large"),
    ),
    Item(
        "text file named .png",
        corpus.text_file,
        "photo.png",
        "grayscale",
        Failed("input is not a decodable image"),
    ),
    Item(
        "JPEG named .png (wrong extension, usable content)",
        corpus.sample_jpeg,
        "really-a-jpeg.png",
        "grayscale",
        Completed("image/jpeg"),
    ),
    Item(
        "MP4 named .png",
        _clip,
        "clip.png",
        "grayscale",
        Failed("input is not a decodable image"),
    ),
    Item(
        "PNG named .mp4",
        _photo,
        "photo.mp4",
        "transcode",
        Failed("input is not a decodable video: it looks like a PNG image"),
    ),
    Item(
        "video with no video stream (audio only), transcode",
        corpus.audio_only_mp4,
        "sound.mp4",
        "transcode",
        Failed("input is not a decodable video: it has no video stream"),
    ),
    Item(
        "video with no video stream (audio only), thumbnail",
        corpus.audio_only_mp4,
        "sound.mp4",
        "thumbnail",
        Failed("input is not a decodable video: it has no video stream"),
    ),
    Item(
        "path-traversal filename",
        _photo,
        "",
        "grayscale",
        Completed("image/png"),
        disposition=b'form-data; name="files"; '
        b'filename="../../../../tmp/evil/../../etc/passwd.png"',
    ),
    Item(
        "control characters in the filename (CR LF, NUL, ESC)",
        _photo,
        "",
        "grayscale",
        Completed("image/png"),
        disposition=b'form-data; name="files"; '
        b"filename*=UTF-8''line%0D%0AX-Injected%3A%20yes%00%1B%5B31m.png",
    ),
]


def _ids(items: list[Item]) -> list[str]:
    return [item.name for item in items]


@pytest.mark.parametrize("item", REFUSED, ids=_ids(REFUSED))
async def test_refused_at_upload_with_a_json_error_and_nothing_created(
    system, session, item
):
    before = {task["id"] for task in await all_tasks(session, system)}
    assert isinstance(item.expect, Refused)

    form = upload_form(
        item.make(), item.filename, item.content_type, item.operation, item.fields
    )
    status, body = await post_upload(session, system, form)

    assert status == item.expect.status, body
    assert body["field"] == item.expect.field, body
    assert item.expect.words in body["error"], body
    after = {task["id"] for task in await all_tasks(session, system)}
    assert after == before


OVERSIZED_PART_HEADERS: dict[str, Callable[[str], bytes]] = {
    "one 64 KiB header line": lambda boundary: corpus.multipart_with_long_part_header(
        boundary, 64 * 1024, _photo()
    ),
    "one 1 MiB header line": lambda boundary: corpus.multipart_with_long_part_header(
        boundary, 1024 * 1024, _photo()
    ),
    "10,000 header lines": lambda boundary: corpus.multipart_with_many_part_headers(
        boundary, 10_000, _photo()
    ),
}


@pytest.mark.parametrize("shape", sorted(OVERSIZED_PART_HEADERS))
async def test_oversized_multipart_part_headers_are_a_400(system, session, shape):
    before = {task["id"] for task in await all_tasks(session, system)}
    boundary = uuid.uuid4().hex
    body = OVERSIZED_PART_HEADERS[shape](boundary)

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    url = f"{system.web_url}/api/v1/tasks"
    async with session.post(url, data=body, headers=headers) as reply:
        status, answer = reply.status, await reply.json()

    assert status == 400, answer
    assert answer["error"].startswith("the multipart body is malformed ("), answer
    assert "\n" not in answer["error"] and "400, message" not in answer["error"]
    after = {task["id"] for task in await all_tasks(session, system)}
    assert after == before


async def _upload(http, system, item: Item) -> dict:
    if item.disposition is not None:
        return await upload_raw_task(
            http, system, item.disposition, item.make(), item.operation
        )
    return await upload_task(
        http,
        system,
        item.make(),
        item.filename,
        item.operation,
        item.content_type,
        item.fields,
    )


@pytest.fixture(scope="module")
async def spare_web(system) -> AsyncIterator[str]:
    """A second web process with a log of its own, for requests that spoil logs."""
    port = free_port()
    system.start("spare-web", "web", WEB_PORT=str(port))
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        await wait_until(lambda: web_ready(http, url), 60, "the spare web service")
    yield url
    system.stop("spare-web")


async def send_oversized_request_header(url: str) -> int:
    """POST with a 100 KB header line; the status that comes back."""
    async with aiohttp.ClientSession() as http:
        headers = {"X-Filler": "x" * 100_000}
        async with http.post(f"{url}/api/v1/tasks", headers=headers) as reply:
            return reply.status


async def test_an_oversized_request_header_is_a_400_and_the_web_goes_on(spare_web):
    assert await send_oversized_request_header(spare_web) == 400

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{spare_web}/readyz") as reply:
            assert reply.status == 200


async def test_an_oversized_request_header_is_logged_without_a_traceback(
    system, spare_web
):
    assert await send_oversized_request_header(spare_web) == 400

    await asyncio.sleep(0.2)  # the log line is written after the answer
    assert "Traceback" not in system.log("spare-web")


@pytest.fixture(scope="module")
async def processed(system) -> dict[str, dict]:
    """Upload every processed item at once; each one's final record by name."""
    async with aiohttp.ClientSession(headers={"Accept": "application/json"}) as http:
        tasks = await asyncio.gather(
            *(_upload(http, system, item) for item in PROCESSED)
        )
        records = await asyncio.gather(
            *(final_record(http, system, task["id"]) for task in tasks)
        )
    return {item.name: record for item, record in zip(PROCESSED, records, strict=True)}


@pytest.mark.parametrize("item", PROCESSED, ids=_ids(PROCESSED))
async def test_accepted_then_processed_to_the_expected_end(processed, item):
    record = processed[item.name]

    if isinstance(item.expect, Failed):
        assert record["status"] == "failed", record
        assert item.expect.words in record["error"], record
        # A reason for a person: one line, no scratch paths of the node.
        assert "\n" not in record["error"]
        assert "/tmp" not in record["error"] and "offload-" not in record["error"]
        assert record["output_name"] is None
    else:
        assert isinstance(item.expect, Completed)
        assert record["status"] == "completed", record
        assert record["output_type"] == item.expect.output_type
        assert record["output_size"] > 0


def test_hostile_filenames_are_kept_as_text_and_never_name_files(processed):
    traversal = processed["path-traversal filename"]
    control = processed["control characters in the filename (CR LF, NUL, ESC)"]

    # Kept as given (it is only data), but the result's name is a plain name.
    assert traversal["filename"] == "../../../../tmp/evil/../../etc/passwd.png"
    assert "/" not in traversal["output_name"]
    assert ".." not in traversal["output_name"]
    # Control characters are gone from the record and the result's name.
    assert control["filename"] == "lineX-Injected: yes[31m.png"
    for name in (control["filename"], control["output_name"]):
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)


async def test_the_nodes_still_serve_and_nothing_was_lost(
    system, session, media_dir, processed
):
    await normal_task_completes(session, system, media_dir)

    # Every task the system holds (this module's and the other hostile
    # modules' that ran before) has ended: none is stuck on the way.
    records = await all_tasks(session, system)
    assert len(records) >= len(PROCESSED) + 1
    for record in records:
        assert record["status"] in ("completed", "failed"), record
    services_alive(system)
