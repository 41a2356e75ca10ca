"""File bytes in the JetStream object store, streamed in and out in chunks.

The layout is the standard NATS object store (`OBJ_files` stream, chunks on
`$O.files.C.<nuid>`, metadata on `$O.files.M.<name>`), so the `nats` CLI can
read what we write. We drive it ourselves because the client's own object
store wants a synchronous reader and hands back whole objects: here uploads
arrive as an async stream, downloads leave as one, and neither may sit whole
in memory.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import ObjectInfo, ObjectMetaOptions
from nats.js.errors import APIError, NotFoundError

from bus import subjects
from bus.acked_publish import AckedPublisher
from bus.connection import until_connected
from bus.errors import FileCorrupt, FileMissing, FileTooLarge, OffloadError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 128 * 1024
PUBLISH_WINDOW = 16
"""Chunks in flight at once while storing: enough to fill the pipe, little RAM."""
ACK_TIMEOUT_S = 10.0
"""How long one stored chunk may wait for JetStream's word before the write fails."""
PURGE_TRIES = 3
"""Tries of a purge, each after the connection is back (see `_purge`)."""
PURGE_RETRY_PAUSE_S = 0.2
NO_ROOM_CODES = frozenset({10002, 10047, 10077})
"""JetStream errors that mean there is no room: the account's or the server's
storage is used up (10002, 10047) or the stream is at a limit (10077, whose
description says which: maximum bytes, messages, ...)."""


class FileStoreFull(OffloadError):
    """The object store refused a write for want of room."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"the file store has no room for {name!r} ({reason})")
        self.name = name
        self.reason = reason


class FileStoreUnavailable(OffloadError):
    """The object store did not take a write (NATS away, or it refused)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"the file store did not take {name!r} ({reason})")
        self.name = name
        self.reason = reason


def write_failure(name: str, error: Exception) -> OffloadError | None:
    """Our error for a bus error met while writing `name`; None for any other."""
    if isinstance(error, APIError):
        reason = error.description or f"error {error.err_code or error.code}"
        if error.err_code in NO_ROOM_CODES:
            return FileStoreFull(name, reason)
        return FileStoreUnavailable(name, reason)
    if isinstance(error, nats.errors.Error | TimeoutError):
        return FileStoreUnavailable(name, str(error) or type(error).__name__)
    return None


@dataclass(frozen=True)
class StoredFile:
    """What the store knows about one object."""

    name: str
    size: int
    chunks: int
    sha256: str
    nuid: str


class FileStore:
    """Streams objects into and out of one object-store bucket."""

    def __init__(self, js: JetStreamContext, bucket: str = subjects.FILES_BUCKET):
        self._js = js
        self._publisher = AckedPublisher.of(js._nc)
        self._bucket = bucket
        self._stream = f"OBJ_{bucket}"

    async def put_stream(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int | None = None,
        replace: bool = True,
    ) -> StoredFile:
        """Store an object from an async stream of byte strings.

        Raises FileTooLarge (leaving nothing behind) as soon as the stream
        passes `max_bytes`, without reading the rest of it. `replace=False`
        promises the name is new, which saves looking for an older version.
        A write the store refuses raises FileStoreFull (no room) or
        FileStoreUnavailable, and leaves nothing behind either.
        """
        try:
            return await self._put_stream(name, chunks, max_bytes, replace)
        except (APIError, nats.errors.Error, TimeoutError) as error:
            failure = write_failure(name, error)
            if failure is None:
                raise
            raise failure from error

    async def _put_stream(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int | None,
        replace: bool,
    ) -> StoredFile:
        nuid = self._js._nc._nuid.next().decode()
        chunk_subject = f"$O.{self._bucket}.C.{nuid}"
        digest = hashlib.sha256()
        pending: list[asyncio.Future] = []
        buffer = bytearray()
        size = 0
        count = 0

        async def send(payload: bytes) -> None:
            nonlocal count
            if len(pending) >= PUBLISH_WINDOW:
                await asyncio.wait_for(pending.pop(0), ACK_TIMEOUT_S)
            pending.append(await self._publisher.publish(chunk_subject, payload))
            count += 1

        try:
            async for piece in chunks:
                size += len(piece)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLarge(max_bytes)
                digest.update(piece)
                buffer += piece
                while len(buffer) >= CHUNK_BYTES:
                    await send(bytes(buffer[:CHUNK_BYTES]))
                    del buffer[:CHUNK_BYTES]
            if count == 0 and not replace:
                return await self._put_whole(name, bytes(buffer))
            if buffer:
                await send(bytes(buffer))
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await asyncio.gather(*pending)
            pending.clear()
            stored = StoredFile(name, size, count, digest.hexdigest(), nuid)
            await self._publish_meta(stored, digest.digest(), replace)
        except BaseException:
            for future in pending:
                future.cancel()
            await asyncio.shield(self._purge(chunk_subject))
            raise

        logger.debug("stored %s (%d bytes in %d chunks)", name, size, count)
        return stored

    async def put_bytes(
        self, name: str, data: bytes, replace: bool = True
    ) -> StoredFile:
        """Store an object held in memory (refusals raise as in put_stream)."""
        if not replace and len(data) <= CHUNK_BYTES:
            try:
                return await self._put_whole(name, data)
            except (APIError, nats.errors.Error, TimeoutError) as error:
                failure = write_failure(name, error)
                if failure is None:
                    raise
                raise failure from error

        async def one_piece() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(name, one_piece(), replace=replace)

    async def _put_whole(self, name: str, data: bytes) -> StoredFile:
        """Store a new object of at most one chunk: one write, one round trip.

        Chunk and metadata are published together and their acks awaited
        together. JetStream stores one connection's messages to a stream in
        order, so the metadata never lands before its chunk; if either is
        refused, both are purged (the name is new: no older version is lost).
        """
        digest = hashlib.sha256(data)
        nuid = self._js._nc._nuid.next().decode()
        stored = StoredFile(name, len(data), 1 if data else 0, digest.hexdigest(), nuid)
        chunk_subject = f"$O.{self._bucket}.C.{nuid}"
        meta_subject = self._meta_subject(name)
        acks: list[asyncio.Future] = []
        try:
            if data:
                acks.append(await self._publisher.publish(chunk_subject, data))
            meta = self._meta_payload(stored, digest.digest())
            acks.append(
                await self._publisher.publish(
                    meta_subject, meta, headers={"Nats-Rollup": "sub"}
                )
            )
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await asyncio.gather(*acks)
        except BaseException:
            for ack in acks:
                ack.cancel()
            await asyncio.shield(self._purge(chunk_subject))
            await asyncio.shield(self._purge(meta_subject))
            raise
        logger.debug("stored %s (%d bytes in one chunk)", name, len(data))
        return stored

    async def put_file(self, name: str, path: Path, replace: bool = True) -> StoredFile:
        """Store a local file, read a chunk at a time off the event loop."""

        async def pieces() -> AsyncIterator[bytes]:
            handle = await asyncio.to_thread(open, path, "rb")
            try:
                while piece := await asyncio.to_thread(handle.read, CHUNK_BYTES * 4):
                    yield piece
            finally:
                handle.close()

        # Small files are read in one go: a thread hop per chunk costs more.
        if path.stat().st_size <= CHUNK_BYTES:
            return await self.put_bytes(name, path.read_bytes(), replace)
        return await self.put_stream(name, pieces(), replace=replace)

    async def info(self, name: str) -> StoredFile:
        """The object's metadata; raise FileMissing when it is not stored."""
        try:
            message = await self._js.get_last_msg(
                self._stream, self._meta_subject(name), direct=True
            )
        except NotFoundError:
            raise FileMissing(name) from None
        meta = json.loads(message.data or b"{}")
        if meta.get("deleted") or not meta.get("nuid"):
            raise FileMissing(name)
        digest = meta.get("digest", "")
        raw = base64.urlsafe_b64decode(digest.split("=", 1)[1]) if digest else b""
        return StoredFile(
            name=name,
            size=int(meta.get("size", 0)),
            chunks=int(meta.get("chunks", 0)),
            sha256=raw.hex(),
            nuid=meta["nuid"],
        )

    async def read_chunks(
        self, name: str, stored: StoredFile | None = None
    ) -> AsyncIterator[bytes]:
        """Yield an object's chunks in order, checking size and digest at the end.

        Each chunk is fetched on demand with a direct get, so a slow reader
        never makes the store push more than one chunk ahead.
        """
        stored = stored or await self.info(name)
        chunk_subject = f"$O.{self._bucket}.C.{stored.nuid}"
        digest = hashlib.sha256()
        size = 0
        sequence = 0
        for _ in range(stored.chunks):
            try:
                message = await self._js.get_msg(
                    self._stream,
                    seq=sequence + 1,
                    subject=chunk_subject,
                    next=True,
                    direct=True,
                )
            except NotFoundError:
                raise FileCorrupt(name, "a chunk is missing") from None
            sequence = message.seq
            data = message.data or b""
            digest.update(data)
            size += len(data)
            yield data
        if size != stored.size or digest.hexdigest() != stored.sha256:
            raise FileCorrupt(name, "size or digest does not match")

    async def read_bytes(self, name: str, stored: StoredFile | None = None) -> bytes:
        """The whole object in memory: for small files only.

        Pass `stored` when the metadata is already at hand: it saves a round trip.
        """
        return b"".join([piece async for piece in self.read_chunks(name, stored)])

    async def read_to_file(
        self, name: str, path: Path, stored: StoredFile | None = None
    ) -> StoredFile:
        """Copy an object into a local file, a chunk at a time."""
        stored = stored or await self.info(name)
        if stored.size <= CHUNK_BYTES:
            path.write_bytes(await self.read_bytes(name, stored))
            return stored
        handle = await asyncio.to_thread(open, path, "wb")
        try:
            async for piece in self.read_chunks(name, stored):
                await asyncio.to_thread(handle.write, piece)
        finally:
            handle.close()
        return stored

    async def names(self, prefix: str = "") -> list[str]:
        """The names of every stored object that starts with `prefix`, sorted.

        One request lists every object of the bucket: meant for checks and
        tools, not for the path of every task.
        """
        info = await self._js.stream_info(
            self._stream, subjects_filter=f"$O.{self._bucket}.M.>"
        )
        found = []
        for subject in info.state.subjects or {}:
            encoded = subject.rsplit(".", 1)[-1]
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            found.append(name.decode(errors="replace"))
        return sorted(name for name in found if name.startswith(prefix))

    async def delete(self, name: str) -> bool:
        """Remove an object and its chunks; False when there was none."""
        try:
            stored = await self.info(name)
        except FileMissing:
            return False
        await self._purge(f"$O.{self._bucket}.C.{stored.nuid}")
        await self._purge(self._meta_subject(name))
        return True

    def _meta_payload(self, stored: StoredFile, raw_digest: bytes) -> bytes:
        info = ObjectInfo(
            name=stored.name,
            bucket=self._bucket,
            nuid=stored.nuid,
            size=stored.size,
            chunks=stored.chunks,
            mtime=datetime.now(UTC).isoformat(),
            digest="SHA-256=" + base64.urlsafe_b64encode(raw_digest).decode(),
            options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
        )
        return json.dumps(info.as_dict()).encode()

    async def _publish_meta(
        self, stored: StoredFile, raw_digest: bytes, replace: bool
    ) -> None:
        previous = None
        if replace:
            with contextlib.suppress(FileMissing):
                previous = await self.info(stored.name)
        await self._js.publish(
            self._meta_subject(stored.name),
            self._meta_payload(stored, raw_digest),
            headers={"Nats-Rollup": "sub"},
        )
        # A rewritten object (a retried job's output) leaves no stale chunks.
        if previous is not None and previous.nuid != stored.nuid:
            await self._purge(f"$O.{self._bucket}.C.{previous.nuid}")

    async def _purge(self, subject: str) -> None:
        # Most purges clean up after a write that failed because NATS went
        # away, so a failed one waits for the connection and tries again
        # rather than leave the pieces behind for good.
        for tries in range(1, PURGE_TRIES + 1):
            try:
                await self._js.purge_stream(self._stream, subject=subject)
                return
            except Exception as error:  # best effort: the caller's error matters more
                last = tries == PURGE_TRIES
                if last or not await until_connected(self._js._nc):
                    logger.warning("could not purge %s: %s", subject, error)
                    return
                await asyncio.sleep(PURGE_RETRY_PAUSE_S * tries)

    def _meta_subject(self, name: str) -> str:
        encoded = base64.urlsafe_b64encode(name.encode()).decode()
        return f"$O.{self._bucket}.M.{encoded}"
