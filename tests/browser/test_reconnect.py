"""When the event stream drops, the page polls, then reconnects by itself."""

import re
from pathlib import Path

import aiohttp
from playwright.async_api import expect

from bus.nats_server import free_port
from tests.browser.helpers import WatchedPage, open_page, task_row
from tests.e2e.system import RunningSystem, wait_until, web_ready

WEB = "web-restarted"
RECONNECT_TIMEOUT_MS = 20_000
TASK_TIMEOUT_MS = 60_000
REFUSED = re.compile(r"Failed to load resource: net::ERR_CONNECTION_REFUSED")


async def start_web(system: RunningSystem, port: int) -> str:
    """Start (or start again) a web service of the test's own on `port`."""
    url = f"http://127.0.0.1:{port}"
    system.start(WEB, "web", WEB_PORT=str(port))
    async with aiohttp.ClientSession() as session:
        await wait_until(lambda: web_ready(session, url), 60, "the test's web")
    return url


async def upload_elsewhere(url: str, path: Path, filename: str) -> None:
    """Upload and schedule a photo through the API, not through the page."""
    form = aiohttp.FormData()
    form.add_field("operation", "edges")
    form.add_field("schedule", "true")
    form.add_field("files", path.read_bytes(), filename=filename)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/tasks", data=form) as reply:
            assert reply.status == 201, await reply.text()


async def test_page_polls_while_the_stream_is_down_and_reconnects(
    watched: WatchedPage, system: RunningSystem, media_dir: Path
):
    port = free_port()
    try:
        url = await start_web(system, port)
        page = await open_page(watched, url)
        connection = page.locator("#connection")

        system.stop(WEB)
        await expect(connection).to_have_attribute("data-mode", "polling")
        await expect(connection).to_contain_text("refreshing every 2 s")

        await start_web(system, port)
        await expect(connection).to_have_attribute(
            "data-mode", "live", timeout=RECONNECT_TIMEOUT_MS
        )
        # Events flow again: a task uploaded elsewhere shows up by itself.
        await upload_elsewhere(url, media_dir / "chelsea.png", "after-restart.png")
        await expect(task_row(page, "after-restart.png")).to_have_attribute(
            "data-status", "completed", timeout=TASK_TIMEOUT_MS
        )
    finally:
        if WEB in system.processes:
            system.stop(WEB)

    assert len(watched.navigations) == 1
    # While the service was down its requests failed; nothing else went wrong.
    assert all(REFUSED.search(problem) for problem in watched.problems), (
        watched.problems
    )
