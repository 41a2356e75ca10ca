"""Aggregate routes: /api/v1/stats and the prototype's dashboard figures."""

import time

from aiohttp import web

from bus.schemas import TaskRecord
from bus.task_store import TaskQuery
from web import aggregates
from web.keys import STORE
from web.queries import whole_number

DEFAULT_BUCKET_S = 10
MAX_BUCKET_S = 86_400


async def every_record(request: web.Request) -> list[TaskRecord]:
    """Every task record in the live view."""
    return await request.app[STORE].list(TaskQuery())


async def stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats: counts, latency per tier, timeline, size against time."""
    bucket_s = whole_number(
        request.query, "bucket_s", DEFAULT_BUCKET_S, 1, MAX_BUCKET_S
    )
    figures = await request.app[STORE].stats(time.time(), bucket_s)
    return web.json_response(figures)


async def computed_at_count(request: web.Request) -> web.Response:
    """GET /computed_at_count: how many tasks went to each tier."""
    return web.json_response(aggregates.by_tier(await every_record(request)))


async def filetype_count(request: web.Request) -> web.Response:
    """GET /filetype_count: tasks per file extension, content type and kind."""
    return web.json_response(aggregates.file_types(await every_record(request)))


async def file_sizes_with_time(request: web.Request) -> web.Response:
    """GET /file_sizes_with_time: size, latency and tier of every completed task."""
    done = aggregates.completed(await every_record(request))
    return web.json_response(aggregates.size_vs_time(done, limit=None))
