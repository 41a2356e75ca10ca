"""The web page: its HTML file and the scripts and styles it loads."""

from pathlib import Path

from aiohttp import web

from web.errors import ApiError

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: web.Request) -> web.FileResponse:
    """GET /: the upload form and the live task table."""
    return web.FileResponse(STATIC_DIR / "index.html")


def asset_path(relative: str) -> Path | None:
    """The file under STATIC_DIR that `relative` names, or None."""
    root = STATIC_DIR.resolve()
    candidate = (root / relative).resolve()
    # '..' and links must not lead out of the folder.
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


async def asset(request: web.Request) -> web.FileResponse:
    """GET /static/{path}: one of the page's files."""
    relative = request.match_info["path"]
    found = asset_path(relative) if "\0" not in relative else None
    if found is None:
        raise ApiError(404, f"the page has no file {relative[:80]!r}", field="path")
    return web.FileResponse(found)
