"""A final event JetStream does not confirm is sent again, not turned into a rerun.

Each test has its own nats-server, because it takes the EVENTS stream away:
JetStream then answers the node's publish with "no responders", as it does
for a moment after a server restart, before its streams are back.
"""

import asyncio
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import nats.errors
import pytest
from nats.js.errors import NoStreamResponseError

import node.jobs
from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_server import start_server
from bus.provision import provision
from bus.settings import BusSettings
from node.emulation import Emulation, EmulationSettings
from node.jobs import JobRunner
from node.load import LoadTracker
from tests.node.test_jobs import a_job, png


@pytest.fixture
async def bus() -> AsyncIterator[tuple]:
    """A provisioned connection to a nats-server of the test's own."""
    store = Path(tempfile.mkdtemp(prefix="offload-final-"))
    server = start_server(store / "js")
    settings = BusSettings(nats_url=server.url)
    nc = await connect(settings, "final-event-test")
    js = jetstream(nc)
    await provision(js, settings)
    try:
        yield nc, js, settings
    finally:
        await close(nc)
        server.stop()
        shutil.rmtree(store, ignore_errors=True)


def a_runner(nc, js, work_dir: Path) -> JobRunner:
    return JobRunner(
        nc,
        js,
        FileStore(js),
        "test-node",
        "edge",
        work_dir,
        1,
        LoadTracker(capacity=1),
        Emulation(EmulationSettings()),
    )


async def stored_finals(js, task_id: str) -> list[dict]:
    """The task's completed and failed events as the EVENTS stream keeps them."""
    found = []
    subscription = await js.subscribe(
        subjects.EVENTS_ALL, ordered_consumer=True, deliver_policy="all"
    )
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                return found
            event = msgpack.unpackb(msg.data)
            if event["task_id"] == task_id and event["kind"] in ("completed", "failed"):
                found.append(event)
    finally:
        await subscription.unsubscribe()


async def test_a_final_event_refused_while_events_are_away_is_sent_again(
    bus, tmp_path, caplog
):
    nc, js, settings = bus
    runner = a_runner(nc, js, tmp_path)
    task_id = uuid.uuid4().hex
    data = png(64, 64)
    job = a_job(task_id, data)
    files = FileStore(js)
    await files.put_bytes(job.input_object, data, replace=False)
    await js.delete_stream(subjects.EVENTS_STREAM)

    caplog.set_level(logging.INFO, logger="node.jobs")
    running = asyncio.create_task(runner(job, 1))
    for _ in range(200):
        if "sending it again" in caplog.text or running.done():
            break
        await asyncio.sleep(0.02)
    assert "sending it again" in caplog.text, caplog.text
    await provision(js, settings)
    await asyncio.wait_for(running, 30)
    runner.close()

    finals = await stored_finals(js, task_id)
    assert [event["kind"] for event in finals] == ["completed"]
    inputs = {job.input_object}
    outputs = [name for name in await files.names(f"{task_id}/") if name not in inputs]
    assert outputs == [finals[0]["output_object"]]


async def test_a_final_event_never_confirmed_hands_the_job_back(
    bus, tmp_path, monkeypatch
):
    nc, js, _ = bus
    monkeypatch.setattr(node.jobs, "FINAL_PUBLISH_TRIES", 2)
    monkeypatch.setattr(node.jobs, "FINAL_RETRY_PAUSE_S", 0.01)
    runner = a_runner(nc, js, tmp_path)
    task_id = uuid.uuid4().hex
    data = png(64, 64)
    job = a_job(task_id, data)
    await FileStore(js).put_bytes(job.input_object, data, replace=False)
    await js.delete_stream(subjects.EVENTS_STREAM)

    with pytest.raises(NoStreamResponseError):
        await asyncio.wait_for(runner(job, 1), 30)
    runner.close()
