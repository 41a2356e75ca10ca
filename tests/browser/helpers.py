"""What the page's tests share: a watched page, screenshots, waiting for things."""

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from playwright.async_api import ConsoleMessage, Frame, Locator, Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@dataclass
class WatchedPage:
    """A page and what it reported: console problems, errors, navigations."""

    page: Page
    problems: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)

    def watch(self) -> None:
        """Start recording the page's console, errors and navigations."""
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)
        self.page.on("framenavigated", self._on_navigated)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.problems.append(f"console {message.type}: {message.text} ({where})")

    def _on_page_error(self, error: Exception) -> None:
        self.problems.append(f"uncaught error: {error}")

    def _on_navigated(self, frame: Frame) -> None:
        if frame == self.page.main_frame:
            self.navigations.append(frame.url)

    def assert_quiet(self) -> None:
        """The page logged no console error or warning and threw nothing."""
        assert not self.problems, "the page reported:\n" + "\n".join(self.problems)

    async def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save a screenshot as test-output/browser/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path


async def open_page(watched: WatchedPage, url: str) -> Page:
    """Open the page and wait until its feed is live and the form is ready."""
    page = watched.page
    await page.goto(url)
    await page.locator('#connection[data-mode="live"]').wait_for(state="attached")
    await page.locator("#image-operation option").first.wait_for(state="attached")
    return page


async def nodes_listed(session: aiohttp.ClientSession, url: str, count: int) -> bool:
    """Whether GET /api/v1/nodes lists `count` live nodes."""
    async with session.get(f"{url}/api/v1/nodes") as reply:
        return reply.status == 200 and len((await reply.json())["nodes"]) == count


def task_row(page: Page, filename: str) -> Locator:
    """The task table's row for a file (the first, so the newest, of that name)."""
    button = page.locator(".file-button", has_text=filename)
    return page.locator("#task-rows tr", has=button).first
