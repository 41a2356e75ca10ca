"""Task routes: list, show, schedule and delete tasks, and where they ran."""

import asyncio
import logging
from typing import Any

from aiohttp import web

from bus import subjects
from bus.schemas import TaskRecord
from bus.task_store import TaskQuery
from web.errors import ApiError
from web.keys import FILES, JS, STORE
from web.queries import task_query
from web.scheduling import schedule

logger = logging.getLogger(__name__)


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
    """GET /api/v1/tasks: a page of tasks, newest first, with the next cursor."""
    query = task_query(request.query)
    records = await request.app[STORE].list(query)
    assert query.limit is not None
    page = records[: query.limit - 1]
    next_cursor = page[-1].id if len(records) > len(page) else None
    body = {"tasks": [record.public() for record in page], "next_cursor": next_cursor}
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


async def delete_task(request: web.Request) -> web.Response:
    """POST /files/del/{id}, DELETE /api/v1/tasks/{id}: remove a task and files."""
    store = request.app[STORE]
    files = request.app[FILES]
    record = await store.get(request.match_info["id"])

    names = [subjects.input_object(record.id), subjects.output_object(record.id)]
    await asyncio.gather(*(files.delete(name) for name in names))
    await store.delete(record.id)

    logger.info("deleted task %s", record.id)
    return web.json_response({"deleted": record.id})


async def computed_at(request: web.Request) -> web.Response:
    """GET /computed_at/{id}: where one task was sent and ran."""
    record = await request.app[STORE].get(request.match_info["id"])
    return web.json_response(placement(record))


async def computed_at_all(request: web.Request) -> web.Response:
    """GET /computed_at: where every task was sent and ran, newest first."""
    records = await request.app[STORE].list(TaskQuery())
    return web.json_response([placement(record) for record in records])
