"""Task routes: list, show, schedule and delete tasks, and where they ran."""

import asyncio
import logging
from typing import Any

from aiohttp import web

from bus import subjects
from bus.errors import TaskNotFound
from bus.file_store import FileStore
from bus.schemas import TaskRecord
from bus.task_store import TaskQuery, TaskStore
from web.errors import ApiError
from web.keys import FILES, JS, STORE
from web.queries import Listing
from web.scheduling import schedule

logger = logging.getLogger(__name__)

DELETE_CONCURRENCY = 32


def placement(record: TaskRecord) -> dict[str, Any]:
    """Where a task was sent and ran, in the prototype's shape."""
    return {
        "id": record.id,
        "filename": record.filename,
        "assigned_to": record.tier,
        "computed_at": record.tier,
        "status": record.status,
        "node_id": record.node_id,
    }


async def list_tasks(request: web.Request) -> web.Response:
    """GET /api/v1/tasks: a page of tasks, newest first, the next cursor, a total."""
    listing = Listing.from_query(request.query)
    store = request.app[STORE]
    page, next_cursor = listing.page(await store.list(listing.store_query()))
    body = {
        "tasks": [record.public() for record in page],
        "next_cursor": next_cursor,
        "total": await store.count(listing.filters()),
    }
    return web.json_response(body)


async def get_task(request: web.Request) -> web.Response:
    """GET /api/v1/tasks/{id}: one task record."""
    record = await request.app[STORE].get(request.match_info["id"])
    return web.json_response(record.public())


async def list_files(request: web.Request) -> web.Response:
    """GET /files: every task record, newest first (the prototype's listing)."""
    records = await request.app[STORE].list(TaskQuery())
    return web.json_response([record.public() for record in records])


async def schedule_all(request: web.Request) -> web.Response:
    """POST /schedule-tasks: schedule every uploaded, unscheduled task."""
    store = request.app[STORE]
    waiting = await store.list(TaskQuery(status="uploaded"))
    records = await schedule(request.app[JS], store, [r.id for r in waiting])
    task_ids = [record.id for record in records]
    return web.json_response({"scheduled": len(task_ids), "task_ids": task_ids})


async def schedule_one(request: web.Request) -> web.Response:
    """POST /api/v1/tasks/{id}/schedule: schedule one uploaded task."""
    store = request.app[STORE]
    record = await store.get(request.match_info["id"])
    if record.status != "uploaded":
        raise ApiError(
            409,
            f"task {record.id} is {record.status}, so it cannot be scheduled again",
            field="id",
            task_status=record.status,
        )
    scheduled = await schedule(request.app[JS], store, [record.id])
    return web.json_response(scheduled[0].public() if scheduled else record.public())


async def remove(store: TaskStore, files: FileStore, record: TaskRecord) -> None:
    """Delete a task's input, output and record (the record last).

    A run still under way when the record goes stores a result nobody
    points at; the coordinator removes it when that run reports.
    """
    names = {subjects.input_object(record.id), subjects.output_object(record.id)}
    if record.output_object is not None:
        names.add(record.output_object)
    await asyncio.gather(*(files.delete(name) for name in names))
    await store.delete(record.id)


async def delete_task(request: web.Request) -> web.Response:
    """POST /files/del/{id}, DELETE /api/v1/tasks/{id}: remove a task and files."""
    store = request.app[STORE]
    record = await store.get(request.match_info["id"])
    await remove(store, request.app[FILES], record)
    logger.info("deleted task %s", record.id)
    return web.json_response({"deleted": record.id})


async def delete_all(request: web.Request) -> web.Response:
    """DELETE /delete-all: remove every task and its files; say how many."""
    store = request.app[STORE]
    files = request.app[FILES]
    gate = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def remove_one(record: TaskRecord) -> bool:
        async with gate:
            try:
                await remove(store, files, record)
            except TaskNotFound:
                return False  # somebody else deleted it first
            return True

    records = await store.list(TaskQuery())
    removed = await asyncio.gather(*(remove_one(r) for r in records))
    count = sum(removed)
    logger.info("deleted all %d tasks", count)
    return web.json_response({"deleted": count})


async def computed_at(request: web.Request) -> web.Response:
    """GET /computed_at/{id}: where one task was sent and ran."""
    record = await request.app[STORE].get(request.match_info["id"])
    return web.json_response(placement(record))


async def computed_at_all(request: web.Request) -> web.Response:
    """GET /computed_at: where every task was sent and ran, newest first."""
    records = await request.app[STORE].list(TaskQuery())
    return web.json_response([placement(record) for record in records])
