"""The web page: one HTML file plus its script and style sheet."""

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: web.Request) -> web.FileResponse:
    """GET /: the upload form and the live task table."""
    return web.FileResponse(STATIC_DIR / "index.html")


def add_page_routes(app: web.Application) -> None:
    """Serve the page at / and its assets under /static/."""
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, name="static")
