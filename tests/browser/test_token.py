"""With API_TOKEN set, the page takes ?token= once and sends it on every request."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from bus.nats_server import free_port
from tests.browser.helpers import WatchedPage, open_page, task_row
from tests.e2e.system import RunningSystem, wait_until

TOKEN = "browser-test-token"
TASK_TIMEOUT_MS = 60_000


async def alive(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(f"{url}/healthz") as reply:
            return reply.status == 200
    except aiohttp.ClientError:
        return False


@pytest.fixture(scope="module")
async def guarded_url(system: RunningSystem) -> AsyncIterator[str]:
    """A second web service on the same system, with API_TOKEN set."""
    port = free_port()
    system.start("web-token", "web", WEB_PORT=str(port), API_TOKEN=TOKEN)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: alive(session, url), 60, "the guarded web")
        yield url
    finally:
        system.stop("web-token")


async def test_page_keeps_the_token_and_sends_it_on_every_request(
    watched: WatchedPage, guarded_url: str, media_dir: Path
):
    page = await open_page(watched, f"{guarded_url}/?token={TOKEN}")
    assert "token" not in page.url

    # The nodes come from fetch with the Bearer header, and then the stream.
    await expect(page.locator('#node-list [data-node-id="edge-1"]')).to_be_visible()

    # The upload (XHR) carries it too; the previews carry ?access_token=.
    await page.set_input_files("#files", media_dir / "astronaut.png")
    await page.click("#upload-schedule-button")
    task = task_row(page, "astronaut.png")
    await expect(task).to_have_attribute(
        "data-status", "completed", timeout=TASK_TIMEOUT_MS
    )
    await task.locator(".file-button").click()
    output = page.locator("#details img.preview-output")
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=await output.element_handle(),
    )
    link = page.locator("#details a", has_text="Download output")
    assert f"access_token={TOKEN}" in (await link.get_attribute("href") or "")
    await page.keyboard.press("Escape")

    # A reload finds the token in the session, not in the address.
    await page.reload()
    await page.locator('#connection[data-mode="live"]').wait_for(state="attached")
    await expect(page.locator("#task-rows tr")).not_to_have_count(0)
    watched.assert_quiet()


async def test_page_without_the_token_says_how_to_give_it(
    watched: WatchedPage, guarded_url: str
):
    page = watched.page
    await page.goto(guarded_url)

    await expect(page.locator("#message")).to_contain_text(
        "This server needs an access token"
    )
    await expect(page.locator("#connection")).to_have_attribute("data-mode", "polling")
    refused = re.compile(r"status of 401 \(Unauthorized\)")
    assert watched.problems and all(refused.search(p) for p in watched.problems)
