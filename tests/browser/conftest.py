"""Fixtures for the page's tests: the real system, and headless Chromium.

The page is driven in Debian's chromium (`make browser` installs it) through
Playwright. Each test gets a fresh browser context whose page records its
console errors and warnings, uncaught errors and main-frame navigations.
"""

import os
import shutil
from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.helpers import DESKTOP, WatchedPage, nodes_listed
from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready

STARTUP_TIMEOUT_S = 60


def chromium_path() -> str:
    """Where chromium is: CHROMIUM_PATH, else the one on PATH."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed: run `make browser` (apt chromium)")
    return path


@pytest.fixture(scope="session")
async def system() -> AsyncIterator[RunningSystem]:
    """nats-server, coordinator (greedy, so no JAX), web, edge-1 and cloud-1."""
    running = start_system()
    running.start("coordinator", "coordinator", POLICY="greedy")
    running.start("web", "web")
    running.start("edge", "edge_node", NODE_ID="edge-1")
    running.start("cloud", "cloud_node", NODE_ID="cloud-1")
    try:
        async with aiohttp.ClientSession() as session:
            url = running.web_url
            await wait_until(lambda: web_ready(session, url), STARTUP_TIMEOUT_S, "web")
            await wait_until(
                lambda: nodes_listed(session, url, 2),
                STARTUP_TIMEOUT_S,
                "both nodes to heartbeat",
            )
        yield running
    finally:
        running.shutdown()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path())
        yield launched
        await launched.close()


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[WatchedPage]:
    """A fresh desktop-sized page in its own context, watched for problems."""
    context = await browser.new_context(viewport=DESKTOP)
    watched = WatchedPage(await context.new_page())
    watched.watch()
    yield watched
    await context.close()
