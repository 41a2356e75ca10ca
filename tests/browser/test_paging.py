"""The task table with 10,000 tasks: one page at a time, live, and quick."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.schemas import TaskRecord
from bus.settings import BusSettings
from bus.task_store import KvTaskStore
from tests.browser.helpers import WatchedPage, open_page
from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready
from tests.factories import task_record

TASKS = 10_000
PAGE_SIZE = 50
WRITE_BATCH = 1000
PAGE_TURN_LIMIT_S = 2.0
FOCUS_IN_TASKS = """() => {
    const focused = document.activeElement;
    return focused.id === "tasks-heading" || focused.closest("#task-rows") !== null;
}"""


def finished_task(index: int, base: float) -> TaskRecord:
    """A completed task record; a higher index is a newer upload."""
    uploaded = base + index
    tier = "cloud" if index % 3 == 0 else "edge"
    return task_record(
        id=f"task-{index:05d}",
        filename=f"photo-{index:05d}.png",
        size=10_000 + index,
        status="completed",
        tier=tier,
        node_id="cloud-1" if tier == "cloud" else "edge-1",
        attempts=1,
        uploaded_at=uploaded,
        scheduled_at=uploaded + 0.1,
        picked_at=uploaded + 0.12,
        started_at=uploaded + 0.15,
        completed_at=uploaded + 0.5,
        queue_wait_ms=50.0,
        transfer_ms=20.0,
        compute_ms=300.0,
        total_ms=400.0,
        explanation={"policy": "greedy", "reason": "test record"},
    )


@dataclass
class Crowded:
    """A web service over 10,000 tasks, and the stores behind it."""

    system: RunningSystem
    tasks: KvTaskStore
    files: FileStore


@pytest.fixture(scope="module")
async def crowded() -> AsyncIterator[Crowded]:
    """nats-server and the web service only, with 10,000 finished tasks.

    Only the tasks a test opens get an input file (for the preview).
    """
    running = start_system()
    running.start("web", "web")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: web_ready(session, running.web_url), 60, "web")
        nc = await connect(BusSettings(nats_url=running.server.url), "paging-test")
        js = jetstream(nc)
        store = await KvTaskStore.open(js)
        base = time.time() - 2 * TASKS
        for start in range(0, TASKS, WRITE_BATCH):
            batch = range(start, min(start + WRITE_BATCH, TASKS))
            await asyncio.gather(*(store.create(finished_task(i, base)) for i in batch))
        yield Crowded(running, store, FileStore(js))
        await close(nc)
    finally:
        running.shutdown()


async def first_and_last(page: Page) -> list[str]:
    names = page.locator("#task-rows .file-button")
    return [await names.first.inner_text(), await names.last.inner_text()]


async def test_ten_thousand_tasks_page_by_page_with_live_changes(
    watched: WatchedPage, crowded: Crowded, media_dir: Path
):
    store = crowded.tasks
    page = await open_page(watched, crowded.system.web_url)
    rows = page.locator("#task-rows tr")
    newest = TASKS - 1

    await expect(rows).to_have_count(PAGE_SIZE)
    await expect(page.locator("#page-info")).to_contain_text("of 10,000")
    await expect(page.locator("#counters")).to_contain_text("completed 10,000")
    assert await first_and_last(page) == [
        f"photo-{newest:05d}.png",
        f"photo-{newest - PAGE_SIZE + 1:05d}.png",
    ]

    # Each page turn asks for one page and renders only that page.
    for page_number in (1, 2):
        began = time.monotonic()
        await page.click("#next-page")
        top = f"photo-{newest - page_number * PAGE_SIZE:05d}.png"
        await expect(rows.first.locator(".file-button")).to_have_text(top)
        assert time.monotonic() - began < PAGE_TURN_LIMIT_S
        await expect(rows).to_have_count(PAGE_SIZE)
    await page.click("#prev-page")
    await expect(rows.first.locator(".file-button")).to_have_text(
        f"photo-{newest - PAGE_SIZE:05d}.png"
    )
    await page.click("#prev-page")
    await expect(rows.first.locator(".file-button")).to_have_text(
        f"photo-{newest:05d}.png"
    )
    await expect(page.locator("#prev-page")).to_be_disabled()

    # A filter by tier shows only that tier.
    await page.select_option("#filter-tier", "cloud")
    newest_cloud = newest - newest % 3
    await expect(rows.nth(1).locator(".file-button")).to_have_text(
        f"photo-{newest_cloud - 3:05d}.png"
    )
    tiers = await rows.locator(".badge.tier-edge, .badge.tier-cloud").all_inner_texts()
    assert set(tiers) == {"cloud"} and len(tiers) == PAGE_SIZE
    await page.select_option("#filter-tier", "")
    # The newest task is a cloud one, so the second row tells the pages apart.
    await expect(rows.nth(1).locator(".file-button")).to_have_text(
        f"photo-{newest - 1:05d}.png"
    )

    # Changes arrive live: a new upload goes on top, the page stays one page.
    fresh = task_record(
        id="task-fresh",
        filename="fresh.png",
        status="uploaded",
        uploaded_at=time.time(),
    )
    await store.create(fresh)
    second = f"task-{newest - 1:05d}"
    for task_id in (fresh.id, second):
        name = subjects.input_object(task_id)
        await crowded.files.put_file(name, media_dir / "coffee.png")
    await expect(rows.first.locator(".file-button")).to_have_text("fresh.png")
    await expect(rows).to_have_count(PAGE_SIZE)

    await store.update(second, fail_with("disk full"))
    changed = page.locator(f'#task-rows tr[data-task-id="{second}"]')
    await expect(changed).to_have_attribute("data-status", "failed")

    # Its details show the error; retry, then cancel, through the real routes.
    await changed.locator(".file-button").click()
    dialog = page.locator("#details")
    await expect(dialog.locator(".task-error")).to_contain_text("disk full")
    await dialog.get_by_role("button", name="Retry").click()
    await expect(changed).to_have_attribute("data-status", "scheduled")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(changed).to_have_attribute("data-status", "cancelled")
    await expect(dialog.get_by_role("button", name="Retry")).to_be_visible()
    await dialog.locator("#details-close").click()

    # Deleting from the details removes the row and leaves the focus in place.
    await rows.first.locator(".file-button").click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#message")).to_have_text("Deleted fresh.png.")
    await expect(
        page.locator('#task-rows tr[data-task-id="task-fresh"]')
    ).to_have_count(0)
    # The focus stays in the table (or on its heading when the row went first).
    assert await page.evaluate(FOCUS_IN_TASKS)

    # A change to a task on another page renders nothing.
    await store.update("task-00001", fail_with("far away"))
    await store.delete(f"task-{newest:05d}")
    gone = page.locator(f'#task-rows tr[data-task-id="task-{newest:05d}"]')
    await expect(gone).to_have_count(0)
    await expect(
        page.locator('#task-rows tr[data-task-id="task-00001"]')
    ).to_have_count(0)
    await expect(rows).to_have_count(PAGE_SIZE)

    assert len(watched.navigations) == 1
    watched.assert_quiet()


def fail_with(error: str):
    """A task-store change that marks a task failed."""

    def change(record: TaskRecord) -> bool:
        record.status = "failed"
        record.error = error
        return True

    return change


async def test_a_change_that_comes_while_a_page_loads_is_not_undone_by_it(
    watched: WatchedPage, crowded: Crowded
):
    page = await open_page(watched, crowded.system.web_url)
    rows = page.locator("#task-rows tr")
    await expect(rows).to_have_count(PAGE_SIZE)

    # The server answers the next page load before the change happens, and
    # the answer reaches the page only after the change has. Later loads
    # (the table reloads itself a moment after a change) wait to the end,
    # so what the page shows is its own doing.
    answered = asyncio.Event()
    deliver = asyncio.Event()
    done = asyncio.Event()
    loads = 0

    async def late_answer(route) -> None:
        nonlocal loads
        loads += 1
        if loads > 1:
            await done.wait()
            await route.continue_()
            return
        response = await route.fetch()
        answered.set()
        await deliver.wait()
        await route.fulfill(response=response)

    await page.route("**/api/v1/tasks?*", late_answer)
    try:
        await page.select_option("#page-size", "25")
        await asyncio.wait_for(answered.wait(), 10)

        late = task_record(
            id="task-late",
            filename="late.png",
            status="uploaded",
            uploaded_at=time.time(),
        )
        await crowded.tasks.create(late)
        await expect(rows.first.locator(".file-button")).to_have_text("late.png")

        # Mark the rows on screen: the page's answer replaces every one of them.
        await page.evaluate(
            "() => document.querySelectorAll('#task-rows tr')"
            ".forEach((tr) => { tr.dataset.before = 'yes'; })"
        )
        deliver.set()
        await expect(page.locator("#task-rows tr[data-before]")).to_have_count(0)
        await expect(rows.first.locator(".file-button")).to_have_text("late.png")
        await expect(rows).to_have_count(25)
    finally:
        # Never leave a held load behind, even when an expectation failed.
        deliver.set()
        done.set()
    await page.unroute("**/api/v1/tasks?*")
    watched.assert_quiet()
