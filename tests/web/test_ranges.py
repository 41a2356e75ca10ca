"""Byte ranges: 206 for one range (seeking past chunks), 416 for a bad one."""

import os

import pytest

from bus import subjects
from bus.file_store import CHUNK_BYTES
from tests.web.helpers import stored_task, upload_one
from web.errors import ApiError
from web.keys import FILES, RANGES
from web.range_header import ByteRange, parse_range, range_applies

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("BYTES = 5 - 6", ByteRange(5, 6)),
        ("bytes=999-999", ByteRange(999, 999)),
    ],
)
def test_a_single_range_is_read_and_clipped_to_the_file(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header", [None, "items=0-5", "bytes=0-1,5-6", "bytes 0-5", "seconds=1-2"]
)
def test_no_range_another_unit_or_several_ranges_mean_the_whole_file(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    ["bytes=5-2", "bytes=x-y", "bytes=-", "bytes=", "bytes=1000-", "bytes=-0"],
)
def test_a_malformed_or_unsatisfiable_range_is_a_416_naming_the_size(header):
    with pytest.raises(ApiError) as raised:
        parse_range(header, SIZE)

    assert raised.value.status == 416
    assert raised.value.headers["Content-Range"] == "bytes */1000"


def test_if_range_needs_the_same_strong_etag():
    assert range_applies(None, '"abc"')
    assert range_applies('"abc"', '"abc"')
    assert not range_applies('"abd"', '"abc"')
    assert not range_applies("Wed, 21 Oct 2015 07:28:00 GMT", '"abc"')


@pytest.fixture
async def big(js) -> tuple[str, bytes]:
    """A completed task whose output spans eight object-store chunks."""
    output = os.urandom(8 * CHUNK_BYTES - 123)
    record = await stored_task(js, b"input bytes", output=output)
    return record.id, output


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, None),
        ("bytes=-1000", -1000, None),
        # Seeks into later chunks, across a boundary, and inside one chunk.
        (
            f"bytes={3 * CHUNK_BYTES - 5}-{3 * CHUNK_BYTES + 4}",
            3 * CHUNK_BYTES - 5,
            3 * CHUNK_BYTES + 4,
        ),
        (f"bytes={5 * CHUNK_BYTES + 7}-", 5 * CHUNK_BYTES + 7, None),
        (
            f"bytes={2 * CHUNK_BYTES}-{2 * CHUNK_BYTES}",
            2 * CHUNK_BYTES,
            2 * CHUNK_BYTES,
        ),
    ],
)
async def test_a_range_is_a_206_with_exactly_those_bytes(
    client, big, header, start, end
):
    task_id, output = big
    expected = output[start : None if end is None else end + 1]

    response = await client.get(
        f"/api/v1/tasks/{task_id}/output", headers={"Range": header}
    )

    assert response.status == 206
    assert await response.read() == expected
    first = start % len(output)
    last = first + len(expected) - 1
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(output)}"
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.headers["Accept-Ranges"] == "bytes"


async def test_a_seek_indexes_the_object_once_and_later_seeks_reuse_it(client, big):
    task_id, output = big
    reader = client.app[RANGES]

    for offset in (4 * CHUNK_BYTES, 6 * CHUNK_BYTES + 1, CHUNK_BYTES + 2):
        response = await client.get(
            f"/api/v1/tasks/{task_id}/output", headers={"Range": f"bytes={offset}-"}
        )
        assert await response.read() == output[offset:]

    assert reader.cached_indexes == 1
    stored = await client.app[FILES].info(subjects.output_object(task_id))
    index = await reader.index(stored)
    assert reader.cached_indexes == 1
    assert len(index.sequences) == 8
    assert index.offsets[3] == 3 * CHUNK_BYTES


async def test_a_range_past_the_end_is_a_416_json_with_the_size(client, big):
    task_id, output = big

    response = await client.get(
        f"/api/v1/tasks/{task_id}/output", headers={"Range": f"bytes={len(output)}-"}
    )

    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(output)}"
    body = await response.json()
    assert body["field"] == "Range"
    assert body["size"] == len(output)


async def test_if_range_with_another_etag_sends_the_whole_file(client, big):
    task_id, output = big
    url = f"/api/v1/tasks/{task_id}/output"
    etag = (await client.head(url)).headers["ETag"]

    stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'})
    fresh = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})

    assert stale.status == 200
    assert await stale.read() == output
    assert fresh.status == 206
    assert await fresh.read() == output[:10]


async def test_a_head_with_a_range_gives_the_headers_of_the_206(client, big):
    task_id, _ = big

    response = await client.head(
        f"/api/v1/tasks/{task_id}/output", headers={"Range": "bytes=5-14"}
    )

    assert response.status == 206
    assert response.headers["Content-Length"] == "10"
    assert await response.read() == b""


async def test_the_prototype_download_route_serves_ranges_too(client, media_dir):
    photo = (media_dir / "chelsea.png").read_bytes()
    task = await upload_one(client, ("chelsea.png", photo, "image/png"))

    response = await client.get(
        f"/files/{task['id']}", headers={"Range": "bytes=200000-"}
    )

    assert response.status == 206
    assert await response.read() == photo[200000:]
