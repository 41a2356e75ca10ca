"""Counting how every accepted task ended, for the fault tests.

"Exactly once" is checked from four independent sources:

- the task records (the `tasks` bucket): every accepted task must end in a
  final state, and no record may exist that nobody was told was accepted (a
  half-made task left by a failed upload);
- the `completed` events JetStream kept in the EVENTS stream (what the
  coordinator reads; a core subscriber would also see repeats JetStream
  dropped as duplicates): per task and per attempt;
- the results in the object store: at most one per task, and the one the
  record points at;
- how many times a record *became* completed, seen live through a watch of
  the bucket and in the coordinators' logs ("task <id> completed on ...").

A task is duplicated when its record became completed more than once or it
kept more than one result. A task with more than one completed event in the
stream did redundant work whose result the record did not take; that is
counted too (`repeated`), apart from duplicates.
"""

import asyncio
import contextlib
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import msgpack
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from bus import subjects
from bus.file_store import FileStore
from bus.schemas import FINAL_STATUSES, TaskEvent, TaskRecord
from bus.task_store import KvTaskStore, TaskQuery

COMPLETED_LOG = re.compile(r"task ([0-9a-f]{32}) completed on ")


@dataclass(frozen=True)
class Tally:
    """How the accepted tasks ended, and every sign of a duplicate."""

    accepted: int
    completed: int
    failed: int
    cancelled: int
    unfinished: int
    """Accepted tasks whose record is not final (or is missing)."""
    lost: int
    """Accepted tasks with no record at all."""
    strays: int
    """Records of tasks nobody was told were accepted."""
    completed_events: int
    repeated: int
    """Tasks with more than one completed event in the stream."""
    applied_twice: int
    """Tasks whose record became completed more than once."""
    extra_outputs: int
    """Tasks with more than one stored result."""
    missing_outputs: int
    """Completed tasks whose record points at no stored result."""
    duplicated: int
    """Tasks applied twice or with more than one result (must be 0)."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed tasks by error (first 80 characters)."""

    def line(self) -> str:
        """One line for the test's output and the report."""
        return (
            f"accepted {self.accepted}, completed {self.completed}, "
            f"failed {self.failed}, cancelled {self.cancelled}, "
            f"unfinished {self.unfinished}, lost {self.lost}, "
            f"strays {self.strays}, duplicated {self.duplicated} "
            f"(applied twice {self.applied_twice}, extra results "
            f"{self.extra_outputs}), completed events {self.completed_events}, "
            f"tasks with repeated completed events {self.repeated}, "
            f"missing results {self.missing_outputs}"
        )


class Ledger:
    """The accepted tasks of one run, and what became of them."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.accepted: set[str] = set()
        self.status: dict[str, str] = {}
        """The latest status the watch saw per task."""
        self.became_completed: Counter[str] = Counter()
        self._watch: asyncio.Task[None] | None = None
        self._watching = asyncio.Event()

    def accept(self, task_ids: Iterable[str]) -> None:
        """Record tasks the system said yes to."""
        self.accepted.update(task_ids)

    async def start(self) -> None:
        """Follow every record change from now on (before any task is sent)."""
        self._watch = asyncio.create_task(self._follow(), name="ledger-watch")
        await asyncio.wait_for(self._watching.wait(), 10)

    async def stop(self) -> None:
        """Stop following."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)

    def unfinished(self) -> set[str]:
        """Accepted tasks the watch has not yet seen in a final state."""
        return {
            task_id
            for task_id in self.accepted
            if self.status.get(task_id) not in FINAL_STATUSES
        }

    async def wait_all_final(self, timeout_s: float) -> float:
        """Wait until every accepted task is final; return the seconds it took.

        The watch is the cheap signal; the bucket itself has the last word
        (read once the watch agrees, and now and then in case it lags).
        """
        began = time.monotonic()
        store = await KvTaskStore.open(self._js)
        next_scan = began + 10
        while True:
            left = self.unfinished()
            now = time.monotonic()
            if not left or now >= next_scan:
                left = await self._unfinished_in_store(store, left)
                next_scan = now + 10
                if not left:
                    return time.monotonic() - began
            if now - began > timeout_s:
                sample = sorted(left)[:5]
                raise TimeoutError(
                    f"{len(left)} of {len(self.accepted)} accepted tasks not final "
                    f"after {timeout_s:.0f}s (e.g. {sample})"
                )
            await asyncio.sleep(0.2)

    async def tally(self, coordinator_logs: Iterable[str] = ()) -> Tally:
        """Count everything, from the records, the stream, the store and logs."""
        store = await KvTaskStore.open(self._js)
        records = {r.id: r for r in await store.list(TaskQuery())}
        events = await completed_events(self._js)
        results = await stored_results(FileStore(self._js))

        applied = Counter(self.became_completed)
        for log in coordinator_logs:
            logged = Counter(COMPLETED_LOG.findall(log))
            for task_id, count in logged.items():
                applied[task_id] = max(applied[task_id], count)

        mine = [records[t] for t in self.accepted if t in records]
        by_status = Counter(record.status for record in mine)
        per_task = Counter(event.task_id for event in events)
        applied_twice = {t for t in self.accepted if applied[t] > 1}
        extra_outputs = {t for t in self.accepted if len(results.get(t, ())) > 1}
        missing = [
            record
            for record in mine
            if record.status == "completed"
            and record.output_object is not None
            and record.output_object not in results.get(record.id, ())
        ]
        errors = Counter(
            (record.error or "")[:80] for record in mine if record.status == "failed"
        )
        return Tally(
            accepted=len(self.accepted),
            completed=by_status["completed"],
            failed=by_status["failed"],
            cancelled=by_status["cancelled"],
            unfinished=sum(1 for r in mine if not r.is_final)
            + len(self.accepted - records.keys()),
            lost=len(self.accepted - records.keys()),
            strays=len(records.keys() - self.accepted),
            completed_events=sum(per_task[t] for t in self.accepted),
            repeated=sum(1 for t in self.accepted if per_task[t] > 1),
            applied_twice=len(applied_twice),
            extra_outputs=len(extra_outputs),
            missing_outputs=len(missing),
            duplicated=len(applied_twice | extra_outputs),
            errors=dict(errors),
        )

    async def _unfinished_in_store(
        self, store: KvTaskStore, candidates: set[str]
    ) -> set[str]:
        if not candidates:
            candidates = set(self.accepted)
        records = await asyncio.gather(
            *(_record_or_none(store, task_id) for task_id in candidates)
        )
        return {
            task_id
            for task_id, record in zip(candidates, records, strict=True)
            if record is None or not record.is_final
        }

    async def _follow(self) -> None:
        prefix = f"$KV.{subjects.TASKS_BUCKET}."
        subscription = await self._js.subscribe(
            f"{prefix}>",
            stream=f"KV_{subjects.TASKS_BUCKET}",
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=1.0,
        )
        self._watching.set()
        try:
            async for message in subscription.messages:
                if not message.data:
                    continue  # a deletion or purge marker
                task_id = message.subject[len(prefix) :]
                status = msgpack.unpackb(message.data).get("status")
                if status == "completed" and self.status.get(task_id) != "completed":
                    self.became_completed[task_id] += 1
                self.status[task_id] = status
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()


async def _record_or_none(store: KvTaskStore, task_id: str) -> TaskRecord | None:
    try:
        return await store.get(task_id)
    except Exception:
        return None


async def completed_events(js: JetStreamContext) -> list[TaskEvent]:
    """Every completed event the EVENTS stream holds."""
    found: list[TaskEvent] = []
    async for event in _stored(js, subjects.task_event("completed")):
        found.append(event)
    return found


async def _stored(js: JetStreamContext, subject: str) -> AsyncIterator[TaskEvent]:
    subscription = await js.pull_subscribe(subject, stream=subjects.EVENTS_STREAM)
    try:
        while True:
            try:
                messages = await subscription.fetch(1000, timeout=1.0)
            except TimeoutError:
                return
            for message in messages:
                yield TaskEvent.decode(message.data)
                await message.ack()
    finally:
        await subscription.unsubscribe()


async def stored_results(files: FileStore) -> dict[str, set[str]]:
    """Every stored result name, by task id."""
    results: dict[str, set[str]] = defaultdict(set)
    for name in await files.names():
        task_id, _, rest = name.partition("/")
        if rest.startswith("output"):
            results[task_id].add(name)
    return results
