"""Placing a batch of scheduled tasks: estimate, decide, dispatch, record."""

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from nats.js import JetStreamContext

from bus import subjects
from bus.consumer import Delivery, settle
from bus.errors import TaskNotFound
from bus.schemas import Job, ScheduledTask, TaskRecord
from bus.task_store import TaskStore
from coordinator.decision import Decision, greedy
from coordinator.load_view import LoadView
from coordinator.records import needs_placement, placed
from policy.cost_model import CostModel
from policy.types import TaskEstimate

if TYPE_CHECKING:
    # Importing it imports JAX, which the coordinator does after it starts.
    from coordinator.decider import Decider

logger = logging.getLogger(__name__)


class Placer:
    """Turns batches of scheduled tasks into dispatched jobs."""

    def __init__(
        self,
        js: JetStreamContext,
        store: TaskStore,
        load: LoadView,
        costs: CostModel,
        no_node_retry_s: float,
    ) -> None:
        self._js = js
        self._store = store
        self._load = load
        self._costs = costs
        self.decider: Decider | None = None
        """The configured policy once it is ready; earliest finish until then."""
        self._no_node_retry_s = no_node_retry_s
        self._warned_no_nodes = False
        self.placed_count = 0

    async def place(self, batch: list[Delivery[ScheduledTask]]) -> None:
        """Decide and dispatch every task in the batch, then settle its messages."""
        records = await asyncio.gather(
            *[self._record_or_none(d.item.task_id) for d in batch]
        )
        todo: list[tuple[Delivery[ScheduledTask], TaskRecord]] = []
        for delivery, record in zip(batch, records, strict=True):
            if record is None or not needs_placement(record):
                # Deleted, or placed already (a redelivery): nothing to do.
                await settle(delivery.msg.ack())
            else:
                todo.append((delivery, record))
        if not todo:
            return

        edge, cloud = self._load.edge_nodes(), self._load.cloud_pool()
        if not edge and cloud is None:
            await self._wait_for_nodes([delivery for delivery, _ in todo])
            return
        self._warned_no_nodes = False

        estimates = [
            TaskEstimate(r.id, r.size, self._costs.work_s(r.kind, r.operation, r.size))
            for _, r in todo
        ]
        if self.decider is None:
            decisions = greedy(estimates, edge, cloud)
        else:
            # In a thread: a batch size not compiled yet must not stall the loop.
            decisions = await asyncio.to_thread(
                self.decider.decide, estimates, edge, cloud
            )

        await asyncio.gather(
            *[
                self._dispatch(delivery, record, decision)
                for (delivery, record), decision in zip(todo, decisions, strict=True)
            ]
        )

    def finished(self, record: TaskRecord) -> None:
        """Pass a finished task to the policy, once there is one."""
        if self.decider is not None:
            self.decider.finished(record)

    async def _dispatch(
        self,
        delivery: Delivery[ScheduledTask],
        record: TaskRecord,
        decision: Decision,
    ) -> None:
        placement = decision.placement
        attempt = record.attempts + 1
        job = Job(
            task_id=record.id,
            attempt=attempt,
            kind=record.kind,
            operation=record.operation,
            params=record.params,
            input_object=subjects.input_object(record.id),
            output_object=subjects.output_object(record.id),
            filename=record.filename,
            content_type=record.content_type,
            size=record.size,
            tier=placement.tier,
            node_id=placement.node_id,
            dispatched_at=time.time(),
            estimated_work_s=placement.estimated_work_s,
        )
        subject = (
            subjects.edge_jobs(placement.node_id)
            if placement.node_id
            else subjects.JOBS_CLOUD
        )
        try:
            # The message id makes a re-dispatch of the same attempt (after a
            # coordinator crash) a no-op inside JetStream's duplicate window.
            # A plain publish: nats-py's publish_async never settles a refused
            # publish (bus/acked_publish.py), which would stall the batch.
            await self._js.publish(
                subject, job.encode(), headers={"Nats-Msg-Id": f"{record.id}:{attempt}"}
            )
            await self._store.update(
                record.id,
                placed(
                    placement,
                    attempt,
                    delivery.item.scheduled_at,
                    decision.explanation,
                    picked_at=job.dispatched_at,
                ),
            )
        except TaskNotFound:
            await settle(delivery.msg.ack())
            return
        except Exception as error:
            logger.warning("could not dispatch task %s: %s", record.id, error)
            await settle(delivery.msg.nak(delay=self._no_node_retry_s))
            return

        self._load.dispatched(placement.node_id, placement.estimated_work_s)
        await settle(delivery.msg.ack())
        self.placed_count += 1
        logger.debug(
            "task %s -> %s %s", record.id, placement.tier, placement.node_id or ""
        )

    async def _wait_for_nodes(self, deliveries: list[Delivery[ScheduledTask]]) -> None:
        if not self._warned_no_nodes:
            logger.warning("no live edge or cloud node; holding scheduled tasks")
            self._warned_no_nodes = True
        for delivery in deliveries:
            await settle(delivery.msg.nak(delay=self._no_node_retry_s))

    async def _record_or_none(self, task_id: str) -> TaskRecord | None:
        try:
            return await self._store.get(task_id)
        except TaskNotFound:
            logger.info(
                "scheduled task %s no longer exists; dropping it (from %s)",
                task_id,
                subjects.TASKS_SCHEDULED,
            )
            return None
