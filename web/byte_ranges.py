"""Reading a byte range of a stored object without reading what comes before it.

An object's chunks sit in the object-store stream among other objects'
chunks, so the stream sequence of chunk k is not known from k. A seek asks
the stream once for the sequence and size of every chunk of the object (a
headers-only consumer: no payload travels) and keeps that index, by the
object's nuid, in a small LRU: a video being scrubbed seeks many times.
A range that starts at byte 0 needs no index: its chunks are read in order.
"""

import asyncio
import bisect
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from bus import subjects
from bus.errors import FileCorrupt
from bus.file_store import StoredFile

logger = logging.getLogger(__name__)

INDEX_CACHE_SIZE = 128
INDEX_TIMEOUT_S = 5.0
SIZE_HEADER = "Nats-Msg-Size"


@dataclass(frozen=True)
class ChunkIndex:
    """Where each chunk of one object is: stream sequence and starting byte."""

    sequences: list[int]
    offsets: list[int]
    sizes: list[int]


class RangeReader:
    """Streams byte ranges of objects in one object-store bucket."""

    def __init__(
        self,
        js: JetStreamContext,
        bucket: str = subjects.FILES_BUCKET,
        cache_size: int = INDEX_CACHE_SIZE,
    ) -> None:
        self._js = js
        self._stream = f"OBJ_{bucket}"
        self._chunk_prefix = f"$O.{bucket}.C."
        self._cache: OrderedDict[str, ChunkIndex] = OrderedDict()
        self._cache_size = cache_size

    @property
    def cached_indexes(self) -> int:
        """How many objects' chunk indexes are kept."""
        return len(self._cache)

    async def read(
        self, stored: StoredFile, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """Yield bytes `start` to `end` (both included) of a stored object."""
        if not 0 <= start <= end < stored.size:
            raise ValueError(f"range {start}-{end} is outside {stored.size} bytes")
        async for chunk_start, data in self._chunks_from(stored, start):
            chunk_end = chunk_start + len(data)
            if chunk_end <= start:
                continue
            yield data[max(start - chunk_start, 0) : end - chunk_start + 1]
            if chunk_end > end:
                return
        raise FileCorrupt(stored.name, "it ended before the range did")

    async def _chunks_from(
        self, stored: StoredFile, start: int
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(first byte, data) of each chunk from the one holding `start` on."""
        if start == 0:
            async for item in self._walk(stored):
                yield item
            return

        index = await self.index(stored)
        first = bisect.bisect_right(index.offsets, start) - 1
        for offset, sequence, size in zip(
            index.offsets[first:],
            index.sequences[first:],
            index.sizes[first:],
            strict=True,
        ):
            data = await self._get(stored, sequence)
            if len(data) != size:
                raise FileCorrupt(stored.name, "a chunk changed size")
            yield offset, data

    async def _walk(self, stored: StoredFile) -> AsyncIterator[tuple[int, bytes]]:
        subject = self._chunk_prefix + stored.nuid
        sequence = 0
        position = 0
        for _ in range(stored.chunks):
            try:
                message = await self._js.get_msg(
                    self._stream,
                    seq=sequence + 1,
                    subject=subject,
                    next=True,
                    direct=True,
                )
            except NotFoundError:
                raise FileCorrupt(stored.name, "a chunk is missing") from None
            sequence = message.seq
            data = message.data or b""
            yield position, data
            position += len(data)

    async def _get(self, stored: StoredFile, sequence: int) -> bytes:
        try:
            message = await self._js.get_msg(self._stream, seq=sequence, direct=True)
        except NotFoundError:
            raise FileCorrupt(stored.name, "a chunk is missing") from None
        if message.subject != self._chunk_prefix + stored.nuid:
            raise FileCorrupt(stored.name, "a chunk is missing")
        return message.data or b""

    async def index(self, stored: StoredFile) -> ChunkIndex:
        """The object's chunk index, from the cache or asked of the stream."""
        known = self._cache.get(stored.nuid)
        if known is not None:
            self._cache.move_to_end(stored.nuid)
            return known
        index = await self._build_index(stored)
        self._cache[stored.nuid] = index
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return index

    async def _build_index(self, stored: StoredFile) -> ChunkIndex:
        subscription = await self._js.subscribe(
            self._chunk_prefix + stored.nuid,
            stream=self._stream,
            ordered_consumer=True,
            headers_only=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        sequences: list[int] = []
        sizes: list[int] = []
        try:
            async with asyncio.timeout(INDEX_TIMEOUT_S):
                while len(sequences) < stored.chunks:
                    message = await subscription.next_msg(timeout=INDEX_TIMEOUT_S)
                    sequences.append(message.metadata.sequence.stream)
                    sizes.append(int((message.headers or {}).get(SIZE_HEADER, "0")))
        except TimeoutError:
            raise FileCorrupt(stored.name, "some chunks are missing") from None
        finally:
            await subscription.unsubscribe()

        if sum(sizes) != stored.size:
            raise FileCorrupt(stored.name, "its chunks do not add up to its size")
        offsets = [0]
        for size in sizes[:-1]:
            offsets.append(offsets[-1] + size)
        logger.debug("indexed %d chunks of %s", len(sequences), stored.name)
        return ChunkIndex(sequences, offsets, sizes)
