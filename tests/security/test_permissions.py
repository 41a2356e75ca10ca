"""Each role's credentials can do its own work and nothing that is another's.

Against a real nats-server loaded with the generated users: a refused action
must both be reported by the server as a permissions violation and leave no
trace (the job still waiting, the stream unchanged).
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import APIError

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.consumer import PullConsumer
from bus.provision import provision
from tests.security.conftest import AuthServer
from tests.security.helpers import Login, log_in, settings_for

JOBS = subjects.JOBS_STREAM
PULL_ONE = json.dumps({"batch": 1, "expires": 500_000_000}).encode()


@dataclass
class Logins:
    """One open login per user, and the admin to look behind their backs."""

    admin: Login
    coordinator: Login
    web: Login
    edge1: Login
    edge2: Login
    cloud1: Login


def node_consumer(durable: str, filter_subject: str) -> ConsumerConfig:
    """A node's durable, created through the API subject that names its filter."""
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
    )


@pytest.fixture(scope="module")
async def logins(auth_server: AuthServer) -> AsyncIterator[Logins]:
    """The layout provisioned by the coordinator, every node's consumer bound by
    the node itself, one job waiting for edge-2 and one for the cloud."""
    server, users = auth_server.server, auth_server.users

    # The coordinator provisions through the services' own connect.
    coordinator_settings = settings_for(server, users, "coordinator")
    nc = await connect(coordinator_settings, "coordinator-test")
    await provision(jetstream(nc), coordinator_settings)
    await close(nc)

    opened = Logins(
        admin=await log_in(settings_for(server, users, "admin")),
        coordinator=await log_in(coordinator_settings),
        web=await log_in(settings_for(server, users, "web")),
        edge1=await log_in(settings_for(server, users, "edge", "edge-1")),
        edge2=await log_in(settings_for(server, users, "edge", "edge-2")),
        cloud1=await log_in(settings_for(server, users, "cloud", "cloud-1")),
    )
    for login, node_id in ((opened.edge1, "edge-1"), (opened.edge2, "edge-2")):
        config = node_consumer(
            subjects.edge_consumer(node_id), subjects.edge_jobs(node_id)
        )
        await login.js.add_consumer(JOBS, config)
    cloud = node_consumer(subjects.CLOUD_CONSUMER, subjects.JOBS_CLOUD)
    await opened.cloud1.js.add_consumer(JOBS, cloud)
    scheduled = PullConsumer(
        opened.coordinator.js,
        subjects.TASKS_STREAM,
        subjects.COORDINATOR_TASKS_CONSUMER,
        subjects.TASKS_SCHEDULED,
        bytes,
    )
    await scheduled.bind()

    await opened.coordinator.js.publish(subjects.edge_jobs("edge-2"), b"job for 2")
    await opened.coordinator.js.publish(subjects.JOBS_CLOUD, b"job for the cloud")
    await opened.web.js.publish(subjects.TASKS_SCHEDULED, b"a scheduled task")
    yield opened

    await scheduled.close()
    for login in vars(opened).values():
        await login.close()


async def waiting(logins: Logins, stream: str, durable: str) -> tuple[int, int]:
    """(messages waiting, messages handed out unacked) of a consumer."""
    info = await logins.admin.js.consumer_info(stream, durable)
    return info.num_pending or 0, info.num_ack_pending or 0


async def jobs_stored(logins: Logins) -> int:
    """How many messages the JOBS stream holds."""
    return (await logins.admin.js.stream_info(JOBS)).state.messages


async def test_an_edge_node_cannot_subscribe_to_another_nodes_jobs(logins):
    edge1 = logins.edge1
    other = await edge1.nc.subscribe(subjects.edge_jobs("edge-2"))
    everything = await edge1.nc.subscribe("jobs.>")
    await edge1.refused("subscription", subjects.edge_jobs("edge-2"))
    await edge1.refused("subscription", "jobs.>")

    await logins.coordinator.nc.publish(subjects.edge_jobs("edge-2"), b"peek")
    await logins.coordinator.nc.flush()
    for subscription in (other, everything):
        with pytest.raises(nats.errors.TimeoutError):
            await subscription.next_msg(timeout=0.3)
        await subscription.unsubscribe()


async def test_an_edge_node_cannot_read_another_users_replies(logins):
    # Pulled jobs arrive on the puller's inbox: reading another's would leak.
    for inbox in ("_INBOX.>", "_INBOX.node-edge-2.>", ">"):
        await logins.edge1.nc.subscribe(inbox)
        await logins.edge1.refused("subscription", inbox)


@pytest.mark.parametrize(
    "durable", [subjects.edge_consumer("edge-2"), subjects.CLOUD_CONSUMER]
)
async def test_an_edge_node_cannot_pull_from_another_consumer(logins, durable):
    before = await waiting(logins, JOBS, durable)
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{JOBS}.{durable}"

    with pytest.raises(nats.errors.TimeoutError):
        await logins.edge1.nc.request(next_subject, PULL_ONE, timeout=1.0)
    await logins.edge1.refused("publish", next_subject)
    with pytest.raises(nats.errors.TimeoutError):
        await logins.edge1.js.consumer_info(JOBS, durable)

    assert before[0] >= 1  # there is something to steal
    assert await waiting(logins, JOBS, durable) == before


async def test_an_edge_node_cannot_point_a_consumer_at_another_subject(logins):
    edge1 = logins.edge1
    mine = subjects.edge_consumer("edge-1")
    theirs = subjects.edge_jobs("edge-2")

    # A new consumer on edge-2's subject, by either API, is refused outright.
    sneaky = node_consumer("sneaky", theirs)
    with pytest.raises(nats.errors.TimeoutError):
        await edge1.js.add_consumer(JOBS, sneaky)
    await edge1.refused("publish", f"$JS.API.CONSUMER.CREATE.{JOBS}.sneaky.{theirs}")
    legacy = ConsumerConfig(durable_name=mine, filter_subject=theirs)
    with pytest.raises(nats.errors.TimeoutError):
        await edge1.js.add_consumer(JOBS, legacy)
    await edge1.refused("publish", f"$JS.API.CONSUMER.DURABLE.CREATE.{JOBS}.{mine}")

    # Its own create subject names its own filter; the server holds it to that.
    own_subject = (
        f"$JS.API.CONSUMER.CREATE.{JOBS}.{mine}.{subjects.edge_jobs('edge-1')}"
    )
    request = {"stream_name": JOBS, "config": node_consumer(mine, theirs).as_dict()}
    reply = await edge1.nc.request(own_subject, json.dumps(request).encode(), 2.0)
    assert json.loads(reply.data)["error"]["err_code"] == 10131

    info = await logins.admin.js.consumer_info(JOBS, mine)
    assert info.config.filter_subject == subjects.edge_jobs("edge-1")


async def test_an_edge_node_cannot_touch_scheduled_tasks(logins):
    edge1 = logins.edge1
    await edge1.nc.subscribe(subjects.TASKS_SCHEDULED)
    await edge1.refused("subscription", subjects.TASKS_SCHEDULED)

    durable = subjects.COORDINATOR_TASKS_CONSUMER
    before = await waiting(logins, subjects.TASKS_STREAM, durable)
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{subjects.TASKS_STREAM}.{durable}"
    with pytest.raises(nats.errors.TimeoutError):
        await edge1.nc.request(next_subject, PULL_ONE, timeout=1.0)
    await edge1.refused("publish", next_subject)
    with pytest.raises(nats.errors.TimeoutError):
        await edge1.js.pull_subscribe(
            subjects.TASKS_SCHEDULED, "edge-reads-tasks", subjects.TASKS_STREAM
        )
    assert before[0] == 1
    assert await waiting(logins, subjects.TASKS_STREAM, durable) == before


@pytest.mark.parametrize(
    "subject",
    [subjects.edge_jobs("edge-2"), subjects.edge_jobs("edge-1"), subjects.JOBS_CLOUD],
)
async def test_an_edge_node_cannot_publish_jobs(logins, subject):
    before = await jobs_stored(logins)
    with pytest.raises(nats.errors.TimeoutError):
        await logins.edge1.js.publish(subject, b"forged job")
    await logins.edge1.refused("publish", subject)
    assert await jobs_stored(logins) == before


async def test_an_edge_node_heartbeats_only_as_itself(logins):
    edge1 = logins.edge1
    kv = await edge1.js.key_value(subjects.NODES_BUCKET)
    await kv.put("edge-1", b"edge-1 is alive")

    with pytest.raises(nats.errors.TimeoutError):
        await kv.put("edge-2", b"edge-2 is alive, says edge-1")
    await edge1.refused("publish", "$KV.nodes.edge-2")
    admin_kv = await logins.admin.js.key_value(subjects.NODES_BUCKET)
    assert (await admin_kv.get("edge-1")).value == b"edge-1 is alive"
    assert set(await admin_kv.keys()) == {"edge-1"}


async def test_a_node_reads_task_records_but_cannot_change_them(logins):
    admin_kv = await logins.admin.js.key_value(subjects.TASKS_BUCKET)
    await admin_kv.put("read-me", b"a record")
    try:
        for login in (logins.edge1, logins.cloud1):
            refusals = len(login.errors)
            kv = await login.js.key_value(subjects.TASKS_BUCKET)
            assert (await kv.get("read-me")).value == b"a record"
            assert login.errors[refusals:] == []

            with pytest.raises(nats.errors.TimeoutError):
                await kv.put("read-me", b"changed by a node")
            await login.refused("publish", f"$KV.{subjects.TASKS_BUCKET}.read-me")
            with pytest.raises(nats.errors.TimeoutError):
                await kv.delete("read-me")
        assert (await admin_kv.get("read-me")).value == b"a record"
    finally:
        await admin_kv.delete("read-me")


async def test_nodes_cannot_create_or_change_streams(logins):
    for login in (logins.edge1, logins.cloud1):
        with pytest.raises(nats.errors.TimeoutError):
            await login.js.add_stream(StreamConfig(name="SNOOP", subjects=["x.>"]))
        await login.refused("publish", "$JS.API.STREAM.CREATE.SNOOP")
        with pytest.raises(nats.errors.TimeoutError):
            await login.js.update_stream(StreamConfig(name=JOBS, subjects=["jobs.>"]))
        await login.refused("publish", f"$JS.API.STREAM.UPDATE.{JOBS}")


async def test_an_edge_node_pulls_and_acks_its_own_jobs(logins):
    refusals = len(logins.edge1.errors)
    await logins.coordinator.js.publish(subjects.edge_jobs("edge-1"), b"own job")
    pull = await logins.edge1.js.pull_subscribe_bind(
        subjects.edge_consumer("edge-1"), JOBS
    )
    (message,) = await pull.fetch(1, timeout=2)
    assert message.data == b"own job"
    await message.ack_sync()
    await pull.unsubscribe()
    assert await waiting(logins, JOBS, subjects.edge_consumer("edge-1")) == (0, 0)
    assert logins.edge1.errors[refusals:] == []


async def test_the_cloud_node_pulls_through_the_shared_consumer(logins):
    refusals = len(logins.cloud1.errors)
    pull = await logins.cloud1.js.pull_subscribe_bind(subjects.CLOUD_CONSUMER, JOBS)
    (message,) = await pull.fetch(1, timeout=2)
    assert message.data == b"job for the cloud"
    await message.nak()
    await pull.unsubscribe()
    assert logins.cloud1.errors[refusals:] == []


@pytest.mark.parametrize(
    "durable", [subjects.edge_consumer("edge-1"), subjects.CLOUD_CONSUMER]
)
async def test_the_web_cannot_pull_jobs(logins, durable):
    web = logins.web
    before = await waiting(logins, JOBS, durable)
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{JOBS}.{durable}"
    with pytest.raises(nats.errors.TimeoutError):
        await web.nc.request(next_subject, PULL_ONE, timeout=1.0)
    await web.refused("publish", next_subject)
    assert await waiting(logins, JOBS, durable) == before


async def test_the_web_cannot_subscribe_to_or_consume_jobs(logins):
    web = logins.web
    await web.nc.subscribe("jobs.>")
    await web.refused("subscription", "jobs.>")

    # Not even a consumer of its own: it could push jobs to its inbox.
    with pytest.raises(nats.errors.TimeoutError):
        await web.js.pull_subscribe("jobs.>", "web-jobs", JOBS)
    await web.refused("publish", f"$JS.API.CONSUMER.INFO.{JOBS}.web-jobs")
    ephemeral = ConsumerConfig(deliver_subject=web.nc.new_inbox())
    with pytest.raises(nats.errors.TimeoutError):
        await web.js.add_consumer(JOBS, ephemeral)
    await web.refused("publish", f"$JS.API.CONSUMER.CREATE.{JOBS}")


async def test_the_web_cannot_read_scheduled_tasks(logins):
    web = logins.web
    durable = subjects.COORDINATOR_TASKS_CONSUMER
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{subjects.TASKS_STREAM}.{durable}"
    with pytest.raises(nats.errors.TimeoutError):
        await web.nc.request(next_subject, PULL_ONE, timeout=1.0)
    await web.refused("publish", next_subject)


async def test_the_coordinator_takes_scheduled_tasks_and_dispatches(logins):
    coordinator = logins.coordinator
    pull = await coordinator.js.pull_subscribe_bind(
        subjects.COORDINATOR_TASKS_CONSUMER, subjects.TASKS_STREAM
    )
    (message,) = await pull.fetch(1, timeout=2)
    assert message.data == b"a scheduled task"
    await message.nak()
    await pull.unsubscribe()
    refusals = len(coordinator.errors)

    stored = await coordinator.js.publish(subjects.edge_jobs("edge-2"), b"second")
    assert stored.stream == JOBS
    with pytest.raises(APIError):
        # It may manage JOBS consumers (re-planning), so the server answers.
        await coordinator.js.consumer_info(JOBS, "no-such-consumer")
    assert coordinator.errors[refusals:] == []
