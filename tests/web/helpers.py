"""Request builders shared by the web tests."""

import time
import uuid

import aiohttp
from aiohttp.test_utils import TestClient
from nats.js import JetStreamContext

from bus import subjects
from bus.file_store import FileStore
from bus.schemas import ScheduledTask, TaskRecord
from bus.task_store import KvTaskStore
from tests.factories import task_record

File = tuple[str, bytes, str]


def form(*files: File, fields: dict[str, str] | None = None) -> aiohttp.FormData:
    """A multipart form with file parts named `files` and plain fields after them."""
    data = aiohttp.FormData(default_to_multipart=True)
    for filename, content, content_type in files:
        data.add_field("files", content, filename=filename, content_type=content_type)
    for name, value in (fields or {}).items():
        data.add_field(name, value)
    return data


async def upload(
    client: TestClient,
    *files: File,
    fields: dict[str, str] | None = None,
    path: str = "/api/v1/tasks",
) -> aiohttp.ClientResponse:
    """POST files and fields as a JSON API client would."""
    headers = {"Accept": "application/json"}
    return await client.post(path, data=form(*files, fields=fields), headers=headers)


async def upload_one(client: TestClient, file: File, **fields: str) -> dict:
    """Upload one file and return its task as the API shows it."""
    response = await upload(client, file, fields={"operation": "grayscale", **fields})
    assert response.status == 201, await response.text()
    [task] = (await response.json())["tasks"]
    return task


def raw_multipart(*parts: tuple[bytes, bytes]) -> tuple[bytes, dict[str, str]]:
    """A hand-written multipart body from (Content-Disposition, content) pairs."""
    boundary = uuid.uuid4().hex.encode()
    body = b""
    for disposition, content in parts:
        body += b"--" + boundary + b"\r\n"
        body += b"Content-Disposition: " + disposition + b"\r\n"
        body += b"Content-Type: image/png\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
        "Accept": "application/json",
    }
    return body, headers


async def object_messages(js: JetStreamContext) -> int:
    """How many messages the object store's stream holds (chunks and metadata)."""
    return (await js.stream_info(f"OBJ_{subjects.FILES_BUCKET}")).state.messages


async def scheduled_since(js: JetStreamContext, after_seq: int) -> list[str]:
    """Task ids announced on tasks.scheduled after a stream sequence, in order."""
    info = await js.stream_info(subjects.TASKS_STREAM)
    task_ids = []
    for seq in range(after_seq + 1, info.state.last_seq + 1):
        message = await js.get_msg(subjects.TASKS_STREAM, seq)
        task_ids.append(ScheduledTask.decode(message.data).task_id)
    return task_ids


async def last_tasks_seq(js: JetStreamContext) -> int:
    """The TASKS stream's last sequence number."""
    return (await js.stream_info(subjects.TASKS_STREAM)).state.last_seq


async def stored_task(
    js: JetStreamContext,
    data: bytes,
    output: bytes | None = None,
    **fields: object,
) -> TaskRecord:
    """Play the web's and a node's part: a task whose input (and output) is stored.

    With an output the task is completed on the edge, 1.5 s after scheduling.
    """
    record = task_record(id=uuid.uuid4().hex, size=len(data), uploaded_at=time.time())
    files = FileStore(js)
    stored = await files.put_bytes(subjects.input_object(record.id), data)
    record.sha256 = stored.sha256
    if output is not None:
        await files.put_bytes(subjects.output_object(record.id), output)
        now = time.time()
        record.status = "completed"
        record.tier = "edge"
        record.node_id = "edge-1"
        record.attempts = 1
        record.scheduled_at = now - 1.5
        record.completed_at = now
        record.total_ms = 1500.0
        record.output_name = "out.png"
        record.output_size = len(output)
        record.output_type = "image/png"
    for name, value in fields.items():
        setattr(record, name, value)
    await (await KvTaskStore.open(js)).create(record)
    return record
