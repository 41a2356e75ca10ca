"""Every HTTP route of the service in one table: handler and documentation.

`add_routes` registers the table and the OpenAPI document is generated from
it (web/openapi.py), so the two cannot drift apart.
"""

from dataclasses import dataclass

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

from bus.schemas import TASK_STATUSES, TIERS
from web import (
    files,
    health,
    metrics,
    nodes,
    openapi,
    page,
    sse,
    stats,
    tasks,
    transitions,
    uploads,
)
from web.aggregates import KINDS
from web.api_doc import (
    JSON,
    Doc,
    header_param,
    json_reply,
    multipart_body,
    path_param,
    query_param,
    ref,
    replies,
)
from web.errors import Handler
from web.keys import OPENAPI, PUBLIC
from web.queries import MAX_LIMIT
from web.stats import MAX_BUCKET_S

TASK_ID = path_param("id", "The task's id.")
FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}
MEDIA = {"schema": {"type": "string", "format": "binary"}}
FILE_BYTES = {"image/*": MEDIA, "video/*": MEDIA, "application/octet-stream": MEDIA}
CONTENT_RANGE = {
    "Content-Range": {
        "description": "The bytes sent, or `bytes */<size>` on a 416.",
        "schema": {"type": "string"},
    }
}

DOWNLOAD_PARAMS = (
    query_param(
        "download",
        "true: Content-Disposition attachment (save); otherwise inline (preview).",
        FLAG,
    ),
    header_param(
        "Range",
        "One byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`.",
        {"type": "string"},
    ),
    header_param("If-Range", "Honour Range only for this ETag.", {"type": "string"}),
)
DOWNLOAD_REPLIES = {
    "200": {"description": "The whole file.", "content": FILE_BYTES},
    "206": {
        "description": "The byte range asked for.",
        "headers": CONTENT_RANGE,
        "content": FILE_BYTES,
    },
    "416": {
        "description": "The range is malformed or past the end of the file.",
        "headers": CONTENT_RANGE,
        "content": {JSON: {"schema": ref("Error")}},
    },
}

UPLOAD_FORM = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "One part per file (the field `file` works too).",
        },
        "operation": {"type": "string", "description": "See /api/v1/operations."},
        "conversionType": {"type": "string", "description": "The prototype's name."},
        "params": {"type": "string", "description": "The params as a JSON object."},
        "schedule": {**FLAG, "description": "Schedule every task at once."},
    },
    "required": ["files"],
    "additionalProperties": {
        "type": "string",
        "description": "Any other field is a parameter of the operation.",
    },
}
UPLOAD = Doc(
    summary="Upload files and create one task for each",
    tag="tasks",
    parameters=(query_param("schedule", "Schedule the tasks at once.", FLAG),),
    body=multipart_body(UPLOAD_FORM, "The files, the operation and its params."),
    responses=replies(
        {
            "201": json_reply("The new tasks.", ref("Uploaded")),
            "303": {"description": "A browser form post: back to the page."},
        },
        400,
        413,
        415,
        503,
        507,
    ),
)
LISTING_PARAMS = (
    query_param("status", "Only tasks in this status.", {"enum": list(TASK_STATUSES)}),
    query_param("tier", "Only tasks placed on this tier.", {"enum": list(TIERS)}),
    query_param("kind", "Only images or only videos.", {"enum": list(KINDS)}),
    query_param("filename", "Only tasks uploaded under this name.", {"type": "string"}),
    query_param(
        "limit",
        "Tasks per page (default 100).",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    ),
    query_param("cursor", "The next_cursor of the page before.", {"type": "string"}),
)


@dataclass(frozen=True)
class Route:
    """One route: method, aiohttp path, handler, and its documentation."""

    method: str
    path: str
    handler: Handler
    doc: Doc
    allow_head: bool = True
    """Answer HEAD as well as GET (not for a stream that never ends)."""


ROUTES: tuple[Route, ...] = (
    # The API.
    Route("POST", "/api/v1/tasks", uploads.upload, UPLOAD),
    Route(
        "GET",
        "/api/v1/tasks",
        tasks.list_tasks,
        Doc(
            summary="A page of tasks, newest first, with the count of all matches",
            tag="tasks",
            parameters=LISTING_PARAMS,
            responses=replies({"200": json_reply("The page.", ref("TaskPage"))}, 400),
        ),
    ),
    Route(
        "GET",
        "/api/v1/tasks/{id}",
        tasks.get_task,
        Doc(
            summary="One task",
            tag="tasks",
            parameters=(TASK_ID,),
            responses=replies({"200": json_reply("The task.", ref("Task"))}, 404),
        ),
    ),
    Route(
        "DELETE",
        "/api/v1/tasks/{id}",
        tasks.delete_task,
        Doc(
            summary="Delete a task, its input and its output",
            tag="tasks",
            parameters=(TASK_ID,),
            responses=replies({"200": json_reply("Deleted.", ref("Deleted"))}, 404),
        ),
    ),
    Route(
        "POST",
        "/api/v1/tasks/{id}/schedule",
        tasks.schedule_one,
        Doc(
            summary="Schedule an uploaded task",
            tag="tasks",
            parameters=(TASK_ID,),
            responses=replies(
                {"200": json_reply("The scheduled task.", ref("Task"))}, 404, 409
            ),
        ),
    ),
    Route(
        "POST",
        "/api/v1/tasks/{id}/retry",
        transitions.retry_task,
        Doc(
            summary="Schedule a failed or cancelled task again (attempts kept)",
            tag="tasks",
            parameters=(TASK_ID,),
            responses=replies(
                {"200": json_reply("The task, scheduled again.", ref("Task"))},
                404,
                409,
            ),
        ),
    ),
    Route(
        "POST",
        "/api/v1/tasks/{id}/cancel",
        transitions.cancel_task,
        Doc(
            summary="Cancel a task that has not finished",
            tag="tasks",
            parameters=(TASK_ID,),
            responses=replies(
                {"200": json_reply("The cancelled task.", ref("Task"))}, 404, 409
            ),
        ),
    ),
    Route(
        "GET",
        "/api/v1/deadletter",
        transitions.list_dead_letters,
        Doc(
            summary="Failed tasks the system gave up on after too many tries",
            tag="tasks",
            responses=replies(
                {"200": json_reply("The dead letters.", ref("DeadLetters"))}
            ),
        ),
    ),
    Route(
        "GET",
        "/api/v1/tasks/{id}/input",
        files.download_input,
        Doc(
            summary="The uploaded file (byte ranges supported)",
            tag="files",
            parameters=(TASK_ID, *DOWNLOAD_PARAMS),
            responses=replies(DOWNLOAD_REPLIES, 400, 404),
        ),
    ),
    Route(
        "GET",
        "/api/v1/tasks/{id}/output",
        files.download_output,
        Doc(
            summary="The result of a completed task (byte ranges supported)",
            tag="files",
            parameters=(TASK_ID, *DOWNLOAD_PARAMS),
            responses=replies(DOWNLOAD_REPLIES, 400, 404),
        ),
    ),
    Route(
        "GET",
        "/api/v1/nodes",
        nodes.list_nodes,
        Doc(
            summary="Live nodes with their latest heartbeat and its age",
            tag="nodes",
            responses=replies({"200": json_reply("The nodes.", ref("NodeList"))}),
        ),
    ),
    Route(
        "GET",
        "/api/v1/operations",
        health.operations,
        Doc(
            summary="Every operation with its params, and the supported file types",
            tag="service",
            uses_bus=False,
            responses=replies({"200": json_reply("The catalog.", ref("Operations"))}),
        ),
    ),
    Route(
        "GET",
        "/api/v1/stats",
        stats.stats,
        Doc(
            summary="Counts, latency per tier, a timeline and size against time",
            tag="stats",
            parameters=(
                query_param(
                    "bucket_s",
                    "Seconds per timeline bucket (default 10).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_BUCKET_S},
                ),
            ),
            responses=replies({"200": json_reply("The figures.", ref("Stats"))}, 400),
        ),
    ),
    Route(
        "GET",
        "/api/v1/events",
        sse.event_stream,
        Doc(
            summary="Live task and node changes (server-sent events)",
            tag="events",
            description=(
                "Events `task` (a task as GET /api/v1/tasks/{id} shows it), "
                '`task-deleted` ({"id"}), `node` (a node with `age_s`) and '
                '`node-gone` ({"node_id"}), each with an id; a comment every '
                "15 s keeps the connection open. A client that falls behind is "
                "sent only the latest state of each task, and one that falls "
                "far behind is disconnected (it reconnects and reloads)."
            ),
            parameters=(
                header_param(
                    "Last-Event-ID",
                    "Resume after this event, while the service still has it.",
                    {"type": "string"},
                ),
            ),
            responses={
                "200": {
                    "description": "The stream, open until the client leaves.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            },
        ),
        allow_head=False,
    ),
    Route(
        "GET",
        "/api/v1/openapi.json",
        openapi.openapi_document,
        Doc(
            summary="This document",
            tag="service",
            uses_bus=False,
            responses=replies({"200": json_reply("OpenAPI 3.1.", ref("OpenApi"))}),
        ),
    ),
    Route(
        "GET",
        "/metrics",
        metrics.metrics_page,
        Doc(
            summary="Prometheus metrics (text exposition format)",
            tag="service",
            responses={
                "200": {
                    "description": "Tasks, latency, nodes, uploads and requests.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
    ),
    Route(
        "GET",
        "/healthz",
        health.healthz,
        Doc(
            summary="The process is alive",
            tag="service",
            public=True,
            uses_bus=False,
            responses=replies({"200": json_reply("Alive.", ref("Health"))}),
        ),
    ),
    Route(
        "GET",
        "/readyz",
        health.readyz,
        Doc(
            summary="Ready: NATS connected and the streams exist",
            tag="service",
            uses_bus=False,
            responses=replies(
                {
                    "200": json_reply("Ready.", ref("Ready")),
                    "503": json_reply("Not ready, with the reason.", ref("Ready")),
                }
            ),
        ),
    ),
    # The prototype's routes, kept for its clients.
    Route("POST", "/upload", uploads.upload, UPLOAD),
    Route(
        "POST",
        "/schedule-tasks",
        tasks.schedule_all,
        Doc(
            summary="Schedule every uploaded, unscheduled task",
            tag="prototype",
            responses=replies({"200": json_reply("Scheduled.", ref("Scheduled"))}),
        ),
    ),
    Route(
        "GET",
        "/files",
        tasks.list_files,
        Doc(
            summary="Every task, newest first",
            tag="prototype",
            responses=replies({"200": json_reply("The tasks.", ref("TaskArray"))}),
        ),
    ),
    Route(
        "GET",
        "/files/{filename:.+}",
        files.download,
        Doc(
            summary="A task's file by id or filename: the output once completed",
            tag="prototype",
            parameters=(
                path_param("filename", "A task id, or the filename it was given."),
                query_param("version", "Which file.", {"enum": ["input", "output"]}),
                *DOWNLOAD_PARAMS,
            ),
            responses=replies(DOWNLOAD_REPLIES, 400, 404),
        ),
    ),
    Route(
        "POST",
        "/files/del/{id}",
        tasks.delete_task,
        Doc(
            summary="Delete a task, its input and its output",
            tag="prototype",
            parameters=(TASK_ID,),
            responses=replies({"200": json_reply("Deleted.", ref("Deleted"))}, 404),
        ),
    ),
    Route(
        "GET",
        "/computed_at",
        tasks.computed_at_all,
        Doc(
            summary="Where every task was sent, newest first",
            tag="prototype",
            responses=replies(
                {"200": json_reply("Placements.", ref("PlacementArray"))}
            ),
        ),
    ),
    Route(
        "GET",
        "/computed_at/{id}",
        tasks.computed_at,
        Doc(
            summary="Where one task was sent",
            tag="prototype",
            parameters=(TASK_ID,),
            responses=replies(
                {"200": json_reply("Its placement.", ref("Placement"))}, 404
            ),
        ),
    ),
    Route(
        "GET",
        "/computed_at_count",
        stats.computed_at_count,
        Doc(
            summary="How many tasks went to each tier",
            tag="prototype",
            responses=replies({"200": json_reply("Counts.", ref("TierCounts"))}),
        ),
    ),
    Route(
        "GET",
        "/filetype_count",
        stats.filetype_count,
        Doc(
            summary="Tasks per file extension, content type and kind",
            tag="prototype",
            responses=replies({"200": json_reply("Counts.", ref("FileTypes"))}),
        ),
    ),
    Route(
        "GET",
        "/file_sizes_with_time",
        stats.file_sizes_with_time,
        Doc(
            summary="Size, latency and tier of every completed task, newest first",
            tag="prototype",
            responses=replies({"200": json_reply("The tasks.", ref("SizeTimeArray"))}),
        ),
    ),
    Route(
        "GET",
        "/filedetails/{id}",
        tasks.get_task,
        Doc(
            summary="One task",
            tag="prototype",
            parameters=(TASK_ID,),
            responses=replies({"200": json_reply("The task.", ref("Task"))}, 404),
        ),
    ),
    Route(
        "DELETE",
        "/delete-all",
        tasks.delete_all,
        Doc(
            summary="Delete every task and its files",
            tag="prototype",
            responses=replies(
                {"200": json_reply("How many went.", ref("DeletedCount"))}
            ),
        ),
    ),
    # The page: free to load, it then calls the API with its token.
    Route(
        "GET",
        "/",
        page.index,
        Doc(
            summary="The web page",
            tag="page",
            public=True,
            uses_bus=False,
            responses={
                "200": {
                    "description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        ),
    ),
    Route(
        "GET",
        "/static/{path:.+}",
        page.asset,
        Doc(
            summary="The page's scripts and style sheets",
            tag="page",
            public=True,
            uses_bus=False,
            parameters=(path_param("path", "A file of the page."),),
            responses=replies(
                {"200": {"description": "The file.", "content": {"*/*": MEDIA}}}, 404
            ),
        ),
    ),
)


def register(app: web.Application, route: Route) -> AbstractResource:
    """Add one route to the router; return its resource."""
    if route.method == "GET":
        # HEAD comes with GET: a download's size without its bytes.
        get = app.router.add_get(route.path, route.handler, allow_head=route.allow_head)
        return get.resource
    return app.router.add_route(route.method, route.path, route.handler).resource


def add_routes(app: web.Application) -> None:
    """Register every route, note the public ones, and build the document."""
    public = set()
    for route in ROUTES:
        resource = register(app, route)
        if route.doc.public:
            public.add(resource)
    app[PUBLIC] = frozenset(public)
    app[OPENAPI] = openapi.build_document(ROUTES)
