"""Uploads: stream each file part into the object store, then create its task.

Nothing holds a whole file: each part goes from the socket to the store a
chunk at a time, and the store measures its size and digest on the way.

An upload is all or nothing: if any file cannot be stored (507 when the
store has no room, 503 when it did not answer), any record cannot be
created, or the tasks cannot be announced for scheduling, everything the
request stored or created is removed before the error is answered, so a
client that is told no finds no half-made task behind.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

import nats.errors
from aiohttp import BodyPartReader, MultipartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from bus import subjects
from bus.errors import FileTooLarge
from bus.file_store import FileStore, FileStoreFull, FileStoreUnavailable
from bus.schemas import TaskRecord
from bus.task_store import TaskStore
from media import media_kind
from web.errors import ApiError
from web.filenames import display_name
from web.keys import FILES, JS, METRICS, SETTINGS, STORE
from web.scheduling import announce
from web.settings import WebSettings
from web.upload_form import UploadForm, parse_flag

logger = logging.getLogger(__name__)

T = TypeVar("T")

FILE_FIELDS = ("files", "file")
READ_BYTES = 256 * 1024
MAX_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class StoredUpload:
    """One file that is now in the object store under its task id."""

    task_id: str
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str


class UploadReader:
    """Reads one multipart upload, streaming each file into the store."""

    def __init__(self, request: web.Request, files: FileStore) -> None:
        self._request = request
        self._files = files
        self._settings: WebSettings = request.app[SETTINGS]
        self.form = UploadForm()
        self.stored: list[StoredUpload] = []

    async def read(self) -> None:
        """Read every part; fields may come before or after the files."""
        reader = await self._request.multipart()
        while (part := await _guarded(reader.next())) is not None:
            if isinstance(part, MultipartReader):
                raise ApiError(400, "nested multipart bodies are not accepted")
            if part.filename is not None or part.name in FILE_FIELDS:
                await self._store_file(part)
            elif part.name:
                self.form.add(part.name, await _read_field(part))
            else:
                raise ApiError(
                    400, "every part of the form needs a name, such as 'files'"
                )

    async def discard(self) -> None:
        """Delete every object stored so far (the upload as a whole failed)."""
        names = [subjects.input_object(item.task_id) for item in self.stored]
        await asyncio.gather(*(self._files.delete(name) for name in names))
        self.stored.clear()

    async def _store_file(self, part: BodyPartReader) -> None:
        limit = self._settings.max_files_per_request
        if len(self.stored) >= limit:
            raise ApiError(
                400,
                f"too many files in one request; at most {limit} are allowed",
                field="files",
                close_connection=True,
            )
        filename = display_name(part.filename)

        first = b""
        if not part.filename:
            # A form's file input left empty sends a nameless, empty part.
            first = await _guarded(part.read_chunk(READ_BYTES))
            if not first:
                return

        declared_type = part.headers.get(hdrs.CONTENT_TYPE)
        kind, content_type = media_kind(filename, declared_type)
        self.form.check_kind(kind)
        first = first or await _guarded(part.read_chunk(READ_BYTES))
        if not first:
            raise ApiError(400, f"file {filename[:80]!r} is empty", field="files")

        task_id = uuid.uuid4().hex
        max_bytes = self._settings.max_upload_bytes
        try:
            stored = await self._files.put_stream(
                subjects.input_object(task_id),
                _chunks(part, first),
                max_bytes=max_bytes,
                replace=False,  # a fresh task id names a new object
            )
        except FileTooLarge:
            raise ApiError(
                413,
                f"file {filename[:80]!r} is larger than the limit of {max_bytes} bytes",
                field="files",
                close_connection=True,
                limit_bytes=max_bytes,
            ) from None
        except FileStoreFull as error:
            logger.error("upload refused, the file store is full: %s", error.reason)
            raise ApiError(
                507,
                f"the file store has no room for {filename[:80]!r} "
                f"({error.reason}); nothing from this upload was kept",
                field="files",
                close_connection=True,
            ) from None
        except FileStoreUnavailable as error:
            logger.warning("upload failed, the file store did not answer: %s", error)
            raise ApiError(
                503,
                f"the file store did not take {filename[:80]!r} ({error.reason}); "
                "nothing from this upload was kept; try again shortly",
                field="files",
                close_connection=True,
            ) from None
        self.stored.append(
            StoredUpload(
                task_id, filename, content_type, kind, stored.size, stored.sha256
            )
        )
        logger.debug("stored %s for task %s (%d bytes)", kind, task_id, stored.size)


async def _guarded(read: Awaitable[T]) -> T:
    """Await a multipart read, turning a malformed body into a 400."""
    try:
        return await read
    except (ValueError, AssertionError, HttpProcessingError) as error:
        # aiohttp's own str() reads "400, message:\n  ..."; its message alone,
        # on one line, is what the client needs.
        said = error.message if isinstance(error, HttpProcessingError) else error
        detail = " ".join(str(said).split())[:80]
        raise ApiError(400, f"the multipart body is malformed ({detail})") from None


async def _chunks(part: BodyPartReader, first: bytes) -> AsyncIterator[bytes]:
    yield first
    while piece := await _guarded(part.read_chunk(READ_BYTES)):
        yield piece


async def _read_field(part: BodyPartReader) -> str:
    name = part.name or ""
    data = bytearray()
    while piece := await _guarded(part.read_chunk(READ_BYTES)):
        data += piece
        if len(data) > MAX_FIELD_BYTES:
            raise ApiError(
                400,
                f"form field {name[:40]!r} is longer than {MAX_FIELD_BYTES} bytes",
                field=name[:40],
                close_connection=True,
            )
    try:
        return data.decode(part.get_charset("utf-8"))
    except (LookupError, UnicodeDecodeError):
        raise ApiError(
            400, f"form field {name[:40]!r} is not valid text", field=name[:40]
        ) from None


def check_request(request: web.Request, settings: WebSettings) -> None:
    """Refuse what is not a multipart upload, or too big to be worth reading."""
    if request.content_type != "multipart/form-data":
        raise ApiError(
            400,
            "send the files as multipart/form-data with file parts named 'files'",
            field="files",
        )
    length = request.content_length
    if length is not None and length > settings.max_request_bytes:
        raise ApiError(
            413,
            f"the request of {length} bytes is larger than this service accepts "
            f"({settings.max_files_per_request} files of at most "
            f"{settings.max_upload_bytes} bytes each)",
            field="files",
            close_connection=True,
            limit_bytes=settings.max_upload_bytes,
        )


def build_records(
    form: UploadForm, stored: list[StoredUpload], scheduled: bool
) -> list[TaskRecord]:
    """One task record per stored file, with the operation checked per kind."""
    name = form.operation_name or ""
    params_by_kind = {kind: form.params_for(kind) for kind in {s.kind for s in stored}}
    now = time.time()
    return [
        TaskRecord(
            id=item.task_id,
            filename=item.filename,
            content_type=item.content_type,
            kind=item.kind,
            size=item.size,
            sha256=item.sha256,
            operation=name,
            params=dict(params_by_kind[item.kind]),
            status="scheduled" if scheduled else "uploaded",
            uploaded_at=now,
            scheduled_at=now if scheduled else None,
        )
        for item in stored
    ]


def wants_html(request: web.Request) -> bool:
    """Whether this is a plain browser form post (answered with a redirect)."""
    accept = request.headers.get(hdrs.ACCEPT, "")
    return (
        "text/html" in accept
        and "application/json" not in accept
        and hdrs.X_REQUESTED_WITH not in request.headers
    )


async def upload(request: web.Request) -> web.StreamResponse:
    """POST /upload, /api/v1/tasks: store files and create one task for each."""
    settings = request.app[SETTINGS]
    store: TaskStore = request.app[STORE]
    check_request(request, settings)
    query_flag = parse_flag("schedule", request.query.get("schedule", ""))
    reader = UploadReader(request, request.app[FILES])
    created: list[str] = []

    try:
        await reader.read()
        if not reader.stored:
            raise ApiError(
                400,
                "the upload holds no files; add file parts named 'files'",
                field="files",
            )
        schedule_now = reader.form.schedule or query_flag
        records = build_records(reader.form, reader.stored, schedule_now)
        outcomes = await asyncio.gather(
            *(store.create(record) for record in records), return_exceptions=True
        )
        created += [r.id for r, out in zip(records, outcomes, strict=True) if not out]
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if schedule_now:
            # The records were born "scheduled" (one write each instead of
            # two); if the announcement fails, the whole upload is undone. A
            # task whose announcement did land is dropped by the coordinator
            # once its record is gone.
            await announce(request.app[JS], created, records[0].scheduled_at or 0.0)
    except (nats.errors.Error, TimeoutError) as error:
        await asyncio.shield(_undo(reader, store, created))
        logger.warning("upload failed on the message bus: %r", error)
        raise ApiError(
            503,
            "the message bus did not take the upload; nothing from it was kept; "
            "try again shortly",
        ) from None
    except BaseException:
        await asyncio.shield(_undo(reader, store, created))
        raise

    scheduled = records if schedule_now else []
    total_bytes = sum(record.size for record in records)
    request.app[METRICS].record_upload(len(records), total_bytes)
    logger.info(
        "uploaded %d files (%d bytes), %d scheduled",
        len(records),
        total_bytes,
        len(scheduled),
    )

    if wants_html(request):
        raise web.HTTPSeeOther("/")
    body = {
        "tasks": [record.public() for record in records],
        "scheduled": len(scheduled),
    }
    return web.json_response(body, status=201)


async def _undo(reader: UploadReader, store: TaskStore, created: list[str]) -> None:
    # Best effort: the error that brought us here is the one to report.
    results = await asyncio.gather(
        *(store.delete(task_id) for task_id in created),
        reader.discard(),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, Exception):
            logger.warning("could not undo part of a failed upload: %s", result)
