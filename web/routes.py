"""Every HTTP route of the service, in one table."""

from aiohttp import web

from web import files, health, nodes, tasks, uploads
from web.page import add_page_routes


def add_routes(app: web.Application) -> None:
    """Register the API, the prototype's routes and the page."""
    app.router.add_routes(
        [
            # The API.
            web.post("/api/v1/tasks", uploads.upload),
            web.get("/api/v1/tasks", tasks.list_tasks),
            web.get("/api/v1/tasks/{id}", tasks.get_task),
            web.delete("/api/v1/tasks/{id}", tasks.delete_task),
            web.post("/api/v1/tasks/{id}/schedule", tasks.schedule_one),
            web.get("/api/v1/tasks/{id}/input", files.download_input),
            web.get("/api/v1/tasks/{id}/output", files.download_output),
            web.get("/api/v1/nodes", nodes.list_nodes),
            web.get("/api/v1/operations", health.operations),
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            # The prototype's routes, kept for its clients.
            web.post("/upload", uploads.upload),
            web.post("/schedule-tasks", tasks.schedule_all),
            web.get("/files", tasks.list_files),
            web.get("/files/{filename:.+}", files.download),
            web.post("/files/del/{id}", tasks.delete_task),
            web.get("/computed_at", tasks.computed_at_all),
            web.get("/computed_at/{id}", tasks.computed_at),
        ]
    )
    add_page_routes(app)
