"""Hostile messages on the real subjects are dropped, logged, and never stall anything.

Everything is published at once, straight into JetStream as a broken or
malicious client could: malformed msgpack, a schema version from the future,
task ids nobody knows, and jobs for a task deleted after upload. The
coordinator and both nodes must settle every one (the work-queue streams
empty, the event consumer caught up), say so in their logs, and go on
serving.
"""

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import msgpack
import pytest
from nats.aio.client import Client

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.schemas import SCHEMA_VERSION, Job, ScheduledTask, TaskEvent
from bus.settings import BusSettings
from tests.e2e.system import RunningSystem, wait_until
from tests.hostile.conftest import all_tasks, normal_task_completes, services_alive

EDGE_JOBS = subjects.edge_jobs("edge-1")
GARBAGE = b"\xc1 this is not msgpack"
FUTURE = msgpack.packb({"v": SCHEMA_VERSION + 98, "task_id": "x", "anything": 1})
SETTLE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Published:
    """Ids of the messages about tasks that do not exist (any more)."""

    unknown_scheduled: str
    unknown_event: str
    deleted_cloud_job: str
    deleted_edge_job: str


def job_for(task_id: str, tier: str, node_id: str | None) -> Job:
    """A well-formed job whose task has no record and no input."""
    return Job(
        task_id=task_id,
        attempt=1,
        kind="image",
        operation="grayscale",
        params={},
        input_object=subjects.input_object(task_id),
        output_object=subjects.output_object(task_id),
        filename="gone.png",
        content_type="image/png",
        size=1000,
        tier=tier,
        node_id=node_id,
        dispatched_at=time.time(),
    )


@pytest.fixture(scope="module")
async def bus(system: RunningSystem) -> AsyncIterator[Client]:
    """A client connection of our own to the system's nats-server."""
    client = await connect(BusSettings(nats_url=system.server.url), "hostile")
    yield client
    await close(client)


@pytest.fixture(scope="module")
async def published(system, bus, media_dir) -> Published:
    """Publish the whole hostile batch, then wait until every message is settled."""
    js = jetstream(bus)
    async with aiohttp.ClientSession(headers={"Accept": "application/json"}) as http:
        # Uploaded without scheduling, so no real job can exist for them.
        deleted_cloud = await _upload_unscheduled_then_delete(http, system, media_dir)
        deleted_edge = await _upload_unscheduled_then_delete(http, system, media_dir)
    ids = Published(
        unknown_scheduled=uuid.uuid4().hex,
        unknown_event=uuid.uuid4().hex,
        deleted_cloud_job=deleted_cloud,
        deleted_edge_job=deleted_edge,
    )
    completed = subjects.task_event("completed")
    event = TaskEvent(
        kind="completed",
        task_id=ids.unknown_event,
        attempt=1,
        node_id="edge-1",
        tier="edge",
        at=time.time(),
        completed_at=time.time(),
    )
    batch = [
        (subjects.TASKS_SCHEDULED, GARBAGE),
        (subjects.TASKS_SCHEDULED, FUTURE),
        (
            subjects.TASKS_SCHEDULED,
            ScheduledTask(ids.unknown_scheduled, time.time()).encode(),
        ),
        (completed, GARBAGE),
        (completed, FUTURE),
        (completed, event.encode()),
        (subjects.JOBS_CLOUD, GARBAGE),
        (subjects.JOBS_CLOUD, FUTURE),
        (
            subjects.JOBS_CLOUD,
            job_for(ids.deleted_cloud_job, "cloud", None).encode(),
        ),
        (EDGE_JOBS, GARBAGE),
        (EDGE_JOBS, FUTURE),
        (EDGE_JOBS, job_for(ids.deleted_edge_job, "edge", "edge-1").encode()),
    ]
    for subject, payload in batch:
        await js.publish(subject, payload)

    async def settled() -> bool:
        tasks = await js.stream_info(subjects.TASKS_STREAM)
        jobs = await js.stream_info(subjects.JOBS_STREAM)
        events = await js.consumer_info(
            subjects.EVENTS_STREAM, subjects.COORDINATOR_EVENTS_CONSUMER
        )
        return (
            tasks.state.messages == 0
            and jobs.state.messages == 0
            and events.num_pending == 0
            and events.num_ack_pending == 0
        )

    await wait_until(settled, SETTLE_TIMEOUT_S, "every hostile message settled")
    return ids


async def _upload_unscheduled_then_delete(http, system, media_dir) -> str:
    photo = (media_dir / "chelsea.png").read_bytes()
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("operation", "grayscale")
    form.add_field("files", photo, filename="gone.png", content_type="image/png")
    url = f"{system.web_url}/api/v1/tasks"
    async with http.post(url, data=form) as reply:
        assert reply.status == 201, await reply.text()
        [task] = (await reply.json())["tasks"]
    async with http.delete(f"{url}/{task['id']}") as reply:
        assert reply.status == 200, await reply.text()
    return task["id"]


@pytest.mark.parametrize(
    ("service", "subject"),
    [
        ("coordinator", subjects.TASKS_SCHEDULED),
        ("coordinator", subjects.task_event("completed")),
        ("cloud", subjects.JOBS_CLOUD),
        ("edge", EDGE_JOBS),
    ],
)
def test_malformed_and_future_messages_are_dropped_naming_their_subject(
    system, published, service, subject
):
    log = system.log(service)

    assert f"dropping message on {subject}: malformed message: not msgpack" in log
    assert (
        f"dropping message on {subject}: malformed message: "
        f"{_schema_for(subject)}: schema version {SCHEMA_VERSION + 98} is newer"
    ) in log


def _schema_for(subject: str) -> str:
    if subject == subjects.TASKS_SCHEDULED:
        return "ScheduledTask"
    if subject.startswith(subjects.EVENTS_PREFIX):
        return "TaskEvent"
    return "Job"


def test_a_scheduled_message_for_an_unknown_task_is_dropped(system, published):
    log = system.log("coordinator")

    assert f"scheduled task {published.unknown_scheduled} no longer exists" in log


@pytest.mark.parametrize("service", ["cloud", "edge"])
def test_a_job_for_a_deleted_task_is_skipped_naming_its_subject(
    system, published, service
):
    task_id = (
        published.deleted_cloud_job
        if service == "cloud"
        else published.deleted_edge_job
    )
    subject = subjects.JOBS_CLOUD if service == "cloud" else EDGE_JOBS

    # The node reads the record first: there is none, so nothing runs.
    lines = _lines_with(system.log(service), f"skipping job for task {task_id}")
    assert any(
        f"from {subject}): the task no longer exists" in line for line in lines
    ), lines
    assert f"task {task_id} failed on" not in system.log(service)


async def test_no_record_is_created_for_unknown_or_deleted_tasks(
    system, session, published
):
    known = {task["id"] for task in await all_tasks(session, system)}

    assert published.unknown_scheduled not in known
    assert published.unknown_event not in known
    assert published.deleted_cloud_job not in known
    assert published.deleted_edge_job not in known


def test_the_unknown_scheduled_task_line_names_its_subject(system, published):
    lines = _lines_with(system.log("coordinator"), published.unknown_scheduled)

    assert any(subjects.TASKS_SCHEDULED in line for line in lines), lines


def test_an_event_for_an_unknown_task_is_logged_with_its_subject(system, published):
    lines = _lines_with(system.log("coordinator"), published.unknown_event)

    assert any(subjects.task_event("completed") in line for line in lines), lines


def _lines_with(log: str, text: str) -> list[str]:
    lines = [line for line in log.splitlines() if text in line]
    assert lines, f"no log line mentions {text}"
    return lines


async def test_malformed_heartbeats_and_records_are_skipped_with_a_warning(
    system, session, bus
):
    # Not messages but stored entries: a broken writer to the KV buckets.
    js = jetstream(bus)
    nodes = await js.key_value(subjects.NODES_BUCKET)
    tasks = await js.key_value(subjects.TASKS_BUCKET)
    await nodes.put("hostile-node", GARBAGE)
    await tasks.put("hostile-record", FUTURE)
    try:

        async def warned() -> bool:
            # Listing makes sure the web's live view has read the entry.
            for path in ("/api/v1/nodes", "/api/v1/tasks"):
                async with session.get(f"{system.web_url}{path}") as reply:
                    assert reply.status == 200, await reply.text()
            web, coordinator = system.log("web"), system.log("coordinator")
            bad_node = "ignoring heartbeat of hostile-node: malformed message"
            bad_record = "skipping task record hostile-record: malformed message"
            return bad_node in web and bad_record in web and bad_node in coordinator

        await wait_until(warned, SETTLE_TIMEOUT_S, "warnings about the bad entries")
        async with session.get(f"{system.web_url}/api/v1/nodes") as reply:
            listed = {node["node_id"] for node in (await reply.json())["nodes"]}
        assert listed == {"edge-1", "cloud-1"}
    finally:
        await nodes.delete("hostile-node")
        await tasks.delete("hostile-record")


async def test_consumers_go_on_after_the_hostile_batch(
    system, session, media_dir, published
):
    await normal_task_completes(session, system, media_dir)
    services_alive(system)
