"""Downloads: a task's input or output, streamed from the object store.

Single byte ranges are served as 206 (a <video> seeks with them); the whole
file is checked against its digest on the way out, a range cannot be.
"""

import logging
import re

from aiohttp import hdrs, web

from bus import subjects
from bus.errors import FileCorrupt, TaskNotFound
from bus.file_store import StoredFile
from bus.schemas import TaskRecord
from bus.task_store import TaskQuery, TaskStore
from web.errors import ApiError
from web.filenames import content_disposition
from web.keys import FILES, RANGES, STORE
from web.range_header import ByteRange, parse_range, range_applies
from web.upload_form import parse_flag

logger = logging.getLogger(__name__)

VERSIONS = ("input", "output")
_CONTENT_TYPE = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")


async def find_task(store: TaskStore, key: str) -> TaskRecord:
    """The task with this id, else the newest task with this filename."""
    try:
        return await store.get(key)
    except TaskNotFound:
        pass
    named = await store.list(TaskQuery(filename=key, limit=1))
    if not named:
        raise ApiError(404, f"no task with id or filename {key[:80]!r}", field="id")
    return named[0]


def choose_version(record: TaskRecord, asked: str | None) -> str:
    """The version to serve: the output once completed, else the input."""
    if asked is None:
        return "output" if record.status == "completed" else "input"
    if asked not in VERSIONS:
        raise ApiError(
            400,
            f"version must be input or output, not {asked[:40]!r}",
            field="version",
            valid=list(VERSIONS),
        )
    if asked == "output" and record.status != "completed":
        raise ApiError(
            404,
            f"task {record.id} has no output yet (it is {record.status})",
            field="version",
        )
    return asked


def safe_content_type(value: str | None) -> str:
    """A content type fit for a header, or the generic binary type."""
    if value and _CONTENT_TYPE.fullmatch(value.lower()):
        return value.lower()
    return "application/octet-stream"


def wants_attachment(request: web.Request, default: bool) -> bool:
    """Whether `?download=` asks for a saved file rather than an inline one."""
    raw = request.query.get("download")
    return default if raw is None else parse_flag("download", raw)


async def send_version(
    request: web.Request, record: TaskRecord, version: str, attachment: bool
) -> web.StreamResponse:
    """Stream one stored version of a task, whole or one byte range of it."""
    files = request.app[FILES]
    if version == "output":
        # The result of the run the record took; older records kept theirs
        # under one name per task.
        name = record.output_object or subjects.output_object(record.id)
        filename = record.output_name or record.filename
        content_type = safe_content_type(record.output_type)
    else:
        name = subjects.input_object(record.id)
        filename = record.filename
        content_type = safe_content_type(record.content_type)
    stored = await files.info(name)
    etag = f'"{stored.sha256}"' if stored.sha256 else None
    asked = None
    if range_applies(request.headers.get(hdrs.IF_RANGE), etag):
        asked = parse_range(request.headers.get(hdrs.RANGE), stored.size)

    response = web.StreamResponse(status=200 if asked is None else 206)
    response.content_type = content_type
    response.content_length = stored.size if asked is None else asked.length
    response.headers[hdrs.ACCEPT_RANGES] = "bytes"
    if asked is not None:
        response.headers[hdrs.CONTENT_RANGE] = asked.content_range(stored.size)
    if etag is not None:
        response.etag = stored.sha256
    response.headers[hdrs.CONTENT_DISPOSITION] = content_disposition(
        filename, inline=not attachment
    )
    # Uploaded bytes are never run as a page, even opened on their own.
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    await response.prepare(request)
    if request.method != hdrs.METH_HEAD:
        await write_body(request, response, stored, asked)
    return response


async def write_body(
    request: web.Request,
    response: web.StreamResponse,
    stored: StoredFile,
    asked: ByteRange | None,
) -> None:
    """Send the object (checked against its digest) or the range asked for."""
    if asked is None or asked.length == stored.size:
        pieces = request.app[FILES].read_chunks(stored.name, stored)
    else:
        pieces = request.app[RANGES].read(stored, asked.start, asked.end)
    try:
        async for piece in pieces:
            await response.write(piece)
    except FileCorrupt as error:
        # The headers are gone: cut the connection so the client sees a short
        # body instead of a download that looks complete.
        logger.error("download of %s broke off: %s", stored.name, error)
        response.force_close()
        return
    await response.write_eof()


async def download(request: web.Request) -> web.StreamResponse:
    """GET /files/{filename}: a task's file by id or filename (?version=...)."""
    record = await find_task(request.app[STORE], request.match_info["filename"])
    version = choose_version(record, request.query.get("version"))
    attachment = wants_attachment(request, default=True)
    return await send_version(request, record, version, attachment)


async def download_input(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/tasks/{id}/input: the uploaded file."""
    record = await request.app[STORE].get(request.match_info["id"])
    attachment = wants_attachment(request, default=False)
    return await send_version(request, record, "input", attachment)


async def download_output(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/tasks/{id}/output: the result, once the task completed."""
    record = await request.app[STORE].get(request.match_info["id"])
    version = choose_version(record, "output")
    attachment = wants_attachment(request, default=False)
    return await send_version(request, record, version, attachment)
