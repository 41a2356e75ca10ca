"""Waiting for tasks to be final: through live events, else by polling."""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bus.schemas import FINAL_STATUSES, TASK_STATUSES
from web.client.api import ApiClient, task_path
from web.client.errors import ApiFailure, ClientError
from web.client.events import read_events
from web.client.progress import WaitDisplay

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5
RECONCILE_EVERY_S = 5.0
"""While following events, re-read unfinished tasks this often in case one was
missed (the stream only promises changes from the moment it connected)."""

_RANKS = {status: rank for rank, status in enumerate(TASK_STATUSES)}

DELETED = "deleted"
"""Not a task status: what we call a task deleted while we waited for it."""


@dataclass
class WaitOutcome:
    """The tasks as last seen, and whether the wait gave up."""

    records: dict[str, dict[str, Any]]
    timed_out: bool
    followed_by: str
    """'events' or 'polling': how the changes were learnt (last used)."""


class TaskFollower:
    """Keeps the latest record of each followed task until all are final."""

    def __init__(
        self,
        api: ApiClient,
        records: dict[str, dict[str, Any]],
        display: WaitDisplay | None = None,
    ) -> None:
        self._api = api
        self.records = records
        self._display = display
        self.followed_by = "polling"

    def pending(self) -> list[str]:
        """Ids of the followed tasks that are not final yet."""
        return [
            task_id for task_id, record in self.records.items() if not is_final(record)
        ]

    async def wait(self, timeout_s: float | None) -> WaitOutcome:
        """Follow until every task is final or `timeout_s` has passed."""
        timed_out = False
        try:
            async with asyncio.timeout(timeout_s):
                await self._follow()
        except TimeoutError:
            timed_out = True
        return WaitOutcome(self.records, timed_out, self.followed_by)

    async def refresh(self) -> None:
        """Read every unfinished task once."""
        await asyncio.gather(*(self._refresh_one(i) for i in self.pending()))

    async def _follow(self) -> None:
        if not self.pending():
            return
        try:
            async with self._api.event_stream() as stream:
                if stream is not None:
                    self.followed_by = "events"
                    logger.debug(
                        "following %d task(s) through events", len(self.records)
                    )
                    await self._through_events(stream)
        except ClientError as error:
            if isinstance(error, ApiFailure) and error.status == 401:
                raise
            logger.debug("the event stream failed (%s); polling instead", error)
        if self.pending():
            self.followed_by = "polling"
            logger.debug("polling %d task(s)", len(self.pending()))
            await self._by_polling()

    async def _through_events(self, stream: aiohttp.ClientResponse) -> None:
        # Changes made before the stream opened are not in it: read them once.
        await self.refresh()
        if not self.pending():
            return
        reconciler = asyncio.create_task(self._reconcile_forever())
        try:
            async for event in read_events(stream):
                if event.type == "task":
                    self._take(json.loads(event.data))
                elif event.type == "task-deleted":
                    self._forget(json.loads(event.data).get("id"))
                if not self.pending():
                    return
            logger.debug("the server ended the event stream")
        finally:
            reconciler.cancel()
            await asyncio.gather(reconciler, return_exceptions=True)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_EVERY_S)
            try:
                await self.refresh()
            except ClientError as error:
                # The stream is the main source; if the server is gone it ends too.
                logger.debug("re-reading tasks failed: %s", error)

    async def _by_polling(self) -> None:
        while True:
            began = time.monotonic()
            await self.refresh()
            if not self.pending():
                return
            spent = time.monotonic() - began
            await asyncio.sleep(max(POLL_INTERVAL_S - spent, 0.0))

    async def _refresh_one(self, task_id: str) -> None:
        try:
            record = await self._api.get_json(task_path(task_id))
        except ApiFailure as error:
            if error.status != 404:
                raise
            self._forget(task_id)
            return
        self._take(record)

    def _take(self, record: dict[str, Any]) -> None:
        task_id = record.get("id")
        if task_id not in self.records or self.records[task_id] == record:
            return
        if is_older(record, self.records[task_id]):
            # Events sent before a read we made can arrive after it.
            return
        self.records[task_id] = record
        if self._display is not None:
            self._display.update(record)

    def _forget(self, task_id: Any) -> None:
        if task_id not in self.records:
            return
        gone = {
            **self.records[task_id],
            "status": DELETED,
            "error": "the task was deleted while waiting for it",
        }
        self._take(gone)


def is_older(new: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether `new` is an earlier state of the task than `current`."""
    if is_final(current):
        return not is_final(new)
    new_rank = _RANKS.get(new.get("status"), -1)
    if new_rank >= _RANKS.get(current.get("status"), -1):
        return False
    # Re-planning after a node died is the one real step back to 'scheduled'.
    replanned = (new.get("explanation") or {}).get("replanned_at")
    return replanned == (current.get("explanation") or {}).get("replanned_at")


def is_final(record: dict[str, Any]) -> bool:
    """Whether a task will not change any more (or is gone)."""
    return record.get("status") in FINAL_STATUSES or record.get("status") == DELETED
