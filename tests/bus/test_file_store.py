"""The object-store file layer against a real nats-server."""

import hashlib
import os

import pytest

from bus.errors import FileMissing, FileTooLarge
from bus.file_store import CHUNK_BYTES, FileStore


async def pieces(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_streamed_object_reads_back_identical_across_many_chunks(js):
    store = FileStore(js)
    data = os.urandom(CHUNK_BYTES * 3 + 12345)

    stored = await store.put_stream("t1/input", pieces(data, 50_000))

    assert stored.size == len(data)
    assert stored.chunks == 4
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.read_bytes("t1/input") == data


async def test_nats_client_object_store_reads_what_we_wrote(js):
    store = FileStore(js)
    data = os.urandom(CHUNK_BYTES + 7)
    await store.put_bytes("t2/input", data)

    standard = await js.object_store("files")
    result = await standard.get("t2/input")

    assert result.data == data


async def test_oversized_stream_stops_and_leaves_nothing_behind(js):
    store = FileStore(js)
    consumed = 0

    async def endless():
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * 10_000

    with pytest.raises(FileTooLarge):
        await store.put_stream("t3/input", endless(), max_bytes=100_000)

    assert consumed == 11
    with pytest.raises(FileMissing):
        await store.info("t3/input")


async def test_rewriting_an_object_replaces_it(js):
    store = FileStore(js)
    await store.put_bytes("t4/output", b"first")
    await store.put_bytes("t4/output", b"second")

    assert await store.read_bytes("t4/output") == b"second"
    assert await store.delete("t4/output")
    assert not await store.delete("t4/output")


@pytest.mark.parametrize("size", [0, 1800, CHUNK_BYTES])
async def test_a_new_object_of_one_chunk_is_standard_and_reads_back(js, size):
    store = FileStore(js)
    data = os.urandom(size)
    name = f"t5-{size}/input"

    streamed = await store.put_stream(name, pieces(data, 1000), replace=False)
    in_memory = await store.put_bytes(f"t6-{size}/input", data, replace=False)

    for stored in (streamed, in_memory):
        assert stored.size == size
        assert stored.chunks == (1 if size else 0)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.info(name) == streamed
    assert await store.read_bytes(name, streamed) == data
    standard = await js.object_store("files")
    assert (await standard.get(f"t6-{size}/input")).data == data
