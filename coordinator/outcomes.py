"""Recording what nodes report, and learning the cost model from completions.

A job can run more than once, and each run stores its result under a name of
its own. Only the completion the record takes keeps its result; the result
of any other completion (a repeat of a finished task, an attempt abandoned
by a re-plan, a task cancelled or deleted meanwhile) is removed here, so
every task keeps at most one result.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

import nats.errors
from nats.js.errors import APIError

from bus.consumer import Delivery, settle
from bus.errors import TaskNotFound
from bus.file_store import FileStore
from bus.nodes import NodeDirectory
from bus.schemas import TaskEvent, TaskRecord
from bus.task_store import TaskStore
from coordinator.records import from_event
from policy.cost_model import CostModel

logger = logging.getLogger(__name__)

FinishedObserver = Callable[[TaskRecord], None]
"""Told of every task that reached its end (the policy learns from these)."""


class OutcomeRecorder:
    """Applies batches of task events to the records they concern."""

    def __init__(
        self,
        store: TaskStore,
        directory: NodeDirectory,
        costs: CostModel,
        on_finished: FinishedObserver | None = None,
        files: FileStore | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._costs = costs
        self._on_finished = on_finished
        self._files = files
        self.finished_count = 0
        self.discarded_outputs = 0

    async def record(self, batch: list[Delivery[TaskEvent]]) -> None:
        """Apply every event, keeping each task's events in order, then ack them."""
        by_task: dict[str, list[Delivery[TaskEvent]]] = defaultdict(list)
        for delivery in batch:
            by_task[delivery.item.task_id].append(delivery)
        await asyncio.gather(*[self._apply_in_order(d) for d in by_task.values()])

    async def _apply_in_order(self, deliveries: list[Delivery[TaskEvent]]) -> None:
        # All of one task's events in a batch go into a single write: under
        # load its started and completed events usually arrive together.
        events = [delivery.item for delivery in deliveries]
        task_id = events[0].task_id
        try:
            finishing, record = await self._apply(task_id, events)
        except TaskNotFound:
            # Deleted while it ran, or never ours: nothing to record, and a
            # stored result would belong to nobody.
            kinds = sorted({delivery.msg.subject for delivery in deliveries})
            logger.info(
                "dropping %d events of unknown task %s (on %s)",
                len(events),
                task_id,
                ", ".join(kinds),
            )
            finishing, record = None, None
        except Exception as error:
            logger.warning(
                "could not record %d events of task %s: %s; will retry",
                len(events),
                task_id,
                error,
            )
            for delivery in deliveries:
                await settle(delivery.msg.nak(delay=1.0))
            return
        await self._discard_unused_outputs(events, record)
        for delivery in deliveries:
            await settle(delivery.msg.ack())
        if finishing is not None and record is not None:
            self._learn(finishing, record)

    async def _discard_unused_outputs(
        self, events: list[TaskEvent], record: TaskRecord | None
    ) -> None:
        """Remove the results of completions the record did not take."""
        if self._files is None:
            return
        kept = record.output_object if record is not None else None
        unused = {
            event.output_object
            for event in events
            if event.kind == "completed"
            and event.output_object is not None
            and event.output_object != kept
        }
        for name in sorted(unused):
            try:
                removed = await self._files.delete(name)
            except (nats.errors.Error, APIError, TimeoutError) as error:
                # Left behind: storage leaks, results stay right.
                logger.warning("could not remove unused result %s: %s", name, error)
                continue
            if removed:
                self.discarded_outputs += 1
                logger.info("removed %s: the record kept another result", name)

    async def _apply(
        self, task_id: str, events: list[TaskEvent]
    ) -> tuple[TaskEvent | None, TaskRecord]:
        """Apply events in order; return the event that finished the task (if
        one did) and the record as stored; raise TaskNotFound when it is gone."""
        finisher: TaskEvent | None = None

        def change(record: TaskRecord) -> bool:
            nonlocal finisher
            finisher = None
            changed = False
            for event in events:
                was_final = record.is_final
                if from_event(event)(record):
                    changed = True
                    if record.is_final and not was_final:
                        finisher = event
            return changed

        record = await self._store.update(task_id, change)
        return finisher, record

    def _learn(self, event: TaskEvent, record: TaskRecord) -> None:
        self.finished_count += 1
        if self._on_finished is not None:
            self._on_finished(record)
        total_s = (record.total_ms or 0) / 1000
        if record.status == "completed":
            logger.info(
                "task %s completed on %s %s in %.3fs",
                record.id,
                record.tier,
                record.node_id or "",
                total_s,
            )
        else:
            logger.info(
                "task %s failed on %s %s: %s",
                record.id,
                record.tier,
                record.node_id or "",
                record.error,
            )
            return
        node = self._directory.get(event.node_id)
        speed = node.speed if node else 1.0
        if event.compute_ms:
            self._costs.observe_compute(
                record.kind,
                record.operation,
                record.size,
                event.compute_ms / 1000,
                speed,
            )
        if event.fetch_ms is not None:
            self._costs.observe_transfer(event.tier, record.size, event.fetch_ms / 1000)
