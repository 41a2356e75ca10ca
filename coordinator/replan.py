"""Re-planning the queue of an edge node that died.

An edge node's jobs wait on `jobs.edge.<id>` in the JOBS work queue, and only
that node reads them. When its heartbeat expires, the leader deletes the
node's consumer (its unacked jobs stay in the stream), drains the subject
through a consumer of its own, and for every job that is still the task's
current attempt moves the record back to `scheduled` and schedules the task
again. The usual placement then sends it to a live node as the next attempt,
and events of the abandoned attempt are ignored (`coordinator/records.py`).

The order of steps makes a crash anywhere safe: the record is changed before
the new scheduled message is published (with a message id per attempt, so a
repeat is dropped), and the old job is acked last, so a new leader that finds
it again simply does the same thing.

A task whose node has died under it `MAX_ATTEMPTS` times is not re-planned
again: it fails, as a dead letter, naming the node it died on last.

Before re-planning, the node's own entry in the `nodes` bucket is read: the
directory follows the bucket through a watch, which lags after NATS itself
restarts, and a node whose fresh heartbeat is in the bucket is not dead.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue

from bus import subjects
from bus.consumer import settle
from bus.errors import MalformedMessage, TaskNotFound
from bus.nodes import NodeDirectory
from bus.schemas import Job, NodeStatus, ScheduledTask, TaskRecord
from bus.settings import env_float, env_int
from bus.task_store import TaskStore
from coordinator.handover import delete_consumer
from coordinator.records import dead_letter

logger = logging.getLogger(__name__)

DRAIN_BATCH = 256
DRAIN_WAIT_S = 0.25


@dataclass(frozen=True)
class ReplanSettings:
    """How often the leader looks for dead edge nodes with queued jobs."""

    scan_interval_s: float = 0.5
    """Time between two looks at the node directory and the JOBS stream."""
    max_attempts: int = 3
    """Tries of a task (its first placement and every re-plan) before it fails."""

    def __post_init__(self) -> None:
        if self.scan_interval_s <= 0:
            raise ValueError("REPLAN_INTERVAL_S must be positive")
        if self.max_attempts < 1:
            raise ValueError("MAX_ATTEMPTS must be at least 1")

    @classmethod
    def from_env(cls) -> "ReplanSettings":
        """Read REPLAN_INTERVAL_S and MAX_ATTEMPTS."""
        return cls(
            scan_interval_s=env_float("REPLAN_INTERVAL_S", 0.5),
            max_attempts=env_int("MAX_ATTEMPTS", 3),
        )


def replanned(node_id: str, attempt: int, at: float, max_attempts: int = 3):
    """A change moving a task back to scheduled after its node died.

    The only change that moves a status backwards, and only for the attempt
    that was sent to the dead node. A task that has been tried `max_attempts`
    times this way fails instead, as a dead letter.
    """

    def change(record: TaskRecord) -> bool:
        if record.is_final or record.attempts != attempt:
            return False
        if record.status == "scheduled":
            return False
        explanation = record.explanation or {}
        tries = int(explanation.get("replans", 0)) + 1
        if tries >= max_attempts:
            record.status = "failed"
            record.completed_at = at
            record.progress = None
            record.error = (
                f"gave up after {tries} tries: the node it was sent to stopped "
                f"each time (last {node_id})"
            )
            record.dead_letter = dead_letter(
                {"cause": "replans", "tries": tries, "attempt": attempt},
                node_id,
                at,
            )
            return True
        record.status = "scheduled"
        record.progress = None
        record.started_at = None
        record.explanation = {
            **explanation,
            "replanned_from": node_id,
            "replanned_at": at,
            "replans": tries,
        }
        return True

    return change


def edge_node_of(subject: str) -> str | None:
    """The node id in `jobs.edge.<id>`, or None for another subject."""
    prefix = f"{subjects.JOBS_EDGE_PREFIX}."
    return subject[len(prefix) :] if subject.startswith(prefix) else None


class Replanner:
    """Finds edge nodes that died with jobs queued and re-plans those jobs."""

    def __init__(
        self,
        js: JetStreamContext,
        store: TaskStore,
        directory: NodeDirectory,
        node_ttl_s: float,
        settings: ReplanSettings,
        clock: Callable[[], float] = time.monotonic,
        nodes_kv: KeyValue | None = None,
    ) -> None:
        self._js = js
        self._store = store
        self._directory = directory
        self._nodes_kv = nodes_kv
        self._node_ttl_s = node_ttl_s
        self._settings = settings
        self._clock = clock
        self._seen_live: set[str] = set()
        self._orphaned_since: dict[str, float] = {}
        self.replanned_count = 0
        self.given_up_count = 0

    async def run(self, active: Callable[[], bool]) -> None:
        """Scan for dead nodes while `active()` says this coordinator leads."""
        while active():
            try:
                await self.scan()
            except nats.errors.ConnectionClosedError:
                return
            except Exception:
                logger.exception("re-plan scan failed; trying again")
            await asyncio.sleep(self._settings.scan_interval_s)

    async def scan(self) -> None:
        """Re-plan the queue of every edge node found dead since the last scan."""
        live = {node.node_id for node in self._directory.live("edge")}
        # A node seen alive that stopped heartbeating is dead now: its
        # heartbeat is already older than the TTL.
        dead = self._seen_live - live
        self._seen_live = live
        dead |= await self._orphans(live)
        for node_id in sorted(dead):
            await self.replan_node(node_id)

    async def replan_node(self, node_id: str) -> int:
        """Move every job still queued for `node_id` elsewhere; return how many."""
        if self._directory.get(node_id) is not None:
            return 0
        if await self._heartbeat_is_fresh(node_id):
            logger.info("edge node %s is live after all; the directory lags", node_id)
            return 0
        subject = subjects.edge_jobs(node_id)
        durable = f"{subjects.REPLAN_CONSUMER_PREFIX}-{node_id}"
        await delete_consumer(
            self._js, subjects.JOBS_STREAM, subjects.edge_consumer(node_id)
        )
        # One left by a leader that died half-way would hold its jobs unacked.
        await delete_consumer(self._js, subjects.JOBS_STREAM, durable)
        subscription = await self._js.pull_subscribe(
            subject,
            durable=durable,
            stream=subjects.JOBS_STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=30.0,
                inactive_threshold=60.0,
            ),
        )
        moved = seen = 0
        try:
            while True:
                try:
                    messages = await subscription.fetch(
                        DRAIN_BATCH, timeout=DRAIN_WAIT_S
                    )
                except TimeoutError:
                    break
                seen += len(messages)
                results = await asyncio.gather(
                    *[self._replan_job(node_id, msg) for msg in messages]
                )
                moved += sum(results)
        finally:
            await subscription.unsubscribe()
            await delete_consumer(self._js, subjects.JOBS_STREAM, durable)
        self._orphaned_since.pop(node_id, None)
        self.replanned_count += moved
        logger.info(
            "edge node %s is gone: re-planned %d of the %d jobs queued for it",
            node_id,
            moved,
            seen,
        )
        return moved

    async def _replan_job(self, node_id: str, msg: Msg) -> bool:
        try:
            job = Job.decode(msg.data)
        except MalformedMessage as error:
            logger.warning("dropping message on %s: %s", msg.subject, error)
            await settle(msg.term())
            return False
        try:
            moved = await self._reschedule(node_id, job)
        except TaskNotFound:
            logger.debug("job of deleted task %s dropped", job.task_id)
            moved = False
        except (nats.errors.Error, APIError, TimeoutError) as error:
            # Left unacked: the stream keeps it and the next scan finds it.
            logger.warning("could not re-plan task %s: %s", job.task_id, error)
            return False
        await settle(msg.ack())
        return moved

    async def _heartbeat_is_fresh(self, node_id: str) -> bool:
        """Whether the bucket itself holds a heartbeat younger than the TTL."""
        if self._nodes_kv is None:
            return False
        try:
            entry = await self._nodes_kv.get(node_id)
        except KeyNotFoundError:
            return False
        if not entry.value:
            return False
        try:
            status = NodeStatus.decode(entry.value)
        except MalformedMessage:
            return False
        return status.heartbeat_at >= time.time() - self._node_ttl_s

    async def _reschedule(self, node_id: str, job: Job) -> bool:
        at = time.time()
        change = replanned(node_id, job.attempt, at, self._settings.max_attempts)
        record = await self._store.update(job.task_id, change)
        if record.dead_letter is not None and record.dead_letter.get("at") == at:
            self.given_up_count += 1
            logger.warning("task %s failed: %s", job.task_id, record.error)
            return False
        if record.status != "scheduled" or record.attempts != job.attempt:
            # Finished, or already placed again: this job is stale.
            logger.debug("stale job %s:%d dropped", job.task_id, job.attempt)
            return False
        scheduled = ScheduledTask(job.task_id, record.scheduled_at or time.time())
        ack = await self._js.publish(
            subjects.TASKS_SCHEDULED,
            scheduled.encode(),
            headers={"Nats-Msg-Id": f"{job.task_id}:replan:{job.attempt}"},
        )
        logger.debug(
            "task %s re-planned away from %s (seq %d)", job.task_id, node_id, ack.seq
        )
        return True

    async def _orphans(self, live: set[str]) -> set[str]:
        """Non-live edge nodes whose subject has held jobs for a whole TTL.

        These are nodes that died before this coordinator led, and jobs a
        failed re-plan left behind. The TTL of grace spares a node that has
        just started and not yet sent its first heartbeat.
        """
        info = await self._js.stream_info(
            subjects.JOBS_STREAM, subjects_filter=f"{subjects.JOBS_EDGE_PREFIX}.*"
        )
        waiting = {
            node_id
            for subject in (info.state.subjects or {})
            if (node_id := edge_node_of(subject)) is not None and node_id not in live
        }
        now = self._clock()
        for node_id in list(self._orphaned_since):
            if node_id not in waiting:
                del self._orphaned_since[node_id]
        for node_id in waiting:
            self._orphaned_since.setdefault(node_id, now)
        return {
            node_id
            for node_id, since in self._orphaned_since.items()
            if now - since >= self._node_ttl_s
        }
