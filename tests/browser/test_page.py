"""The page as a person uses it: upload, schedule, watch live, look closer."""

import re
from pathlib import Path

from playwright.async_api import expect

from tests.browser.helpers import PHONE, WatchedPage, open_page, task_row
from tests.e2e.system import RunningSystem

TASK_TIMEOUT_MS = 60_000


async def test_upload_schedule_and_watch_both_tasks_complete_live(
    watched: WatchedPage, system: RunningSystem, media_dir: Path, request
):
    page = await open_page(watched, system.web_url)
    await page.evaluate("window.notReloaded = true")

    await page.select_option("#image-operation", "grayscale")
    await page.select_option("#video-operation", "transcode")
    await page.select_option("#video-param-codec", "vp9")
    await page.set_input_files(
        "#files", [media_dir / "coffee.png", media_dir / "chelsea-pan.mp4"]
    )
    items = page.locator("#file-list .file-item")
    await expect(items).to_have_count(2)
    await expect(items.locator("progress")).to_have_count(2)

    await page.click("#upload-button")
    await expect(
        page.locator('#file-list .file-item[data-state="done"]')
    ).to_have_count(2)
    for value in await items.locator("progress").evaluate_all(
        "bars => bars.map(bar => bar.value)"
    ):
        assert value == 1
    await expect(task_row(page, "coffee.png")).to_have_attribute(
        "data-status", "uploaded"
    )
    await expect(task_row(page, "chelsea-pan.mp4")).to_have_attribute(
        "data-status", "uploaded"
    )

    await page.click("#schedule-all")
    await expect(page.locator("#message")).to_contain_text("Scheduled 2")
    for filename in ("coffee.png", "chelsea-pan.mp4"):
        await expect(task_row(page, filename)).to_have_attribute(
            "data-status", "completed", timeout=TASK_TIMEOUT_MS
        )
    photo_row = task_row(page, "coffee.png")
    await expect(
        photo_row.locator(".badge.tier-edge, .badge.tier-cloud")
    ).to_have_count(1)
    await expect(photo_row.locator("td").nth(7)).not_to_have_text("")

    # Everything above arrived without the page loading again.
    assert len(watched.navigations) == 1
    assert await page.evaluate("window.notReloaded") is True

    # The photo's details, opened and closed with the keyboard.
    photo_button = photo_row.locator(".file-button")
    await photo_button.focus()
    await page.keyboard.press("Enter")
    dialog = page.locator("#details")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#details-title")).to_have_text("coffee.png")
    facts = dialog.locator("#details-facts")
    for label in ("Uploaded", "Scheduled", "Picked", "Started", "Completed", "Policy"):
        await expect(facts.locator("dt", has_text=label).first).to_be_visible()
    await expect(facts).to_contain_text("greedy")
    output = dialog.locator("img.preview-output")
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await output.element_handle()
    )
    download = dialog.locator("a", has_text="Download output")
    assert "download=1" in (await download.get_attribute("href") or "")
    await watched.screenshot(f"{request.node.name}-details", full_page=False)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert await photo_button.evaluate("button => button === document.activeElement")

    # The video's details: its output plays in a <video>.
    await task_row(page, "chelsea-pan.mp4").locator(".file-button").click()
    video = dialog.locator("video.preview-output")
    await page.wait_for_function(
        "video => video.readyState >= 1 && video.duration > 0",
        arg=await video.element_handle(),
    )
    await dialog.locator("#details-close").click()
    await expect(dialog).to_be_hidden()

    # The charts have drawn the two tasks: a screenshot for the README.
    await expect(page.locator("#chart-scatter-summary")).to_have_text(
        re.compile(r"^[2-9]\d* completed tasks")
    )
    await expect(page.locator("#chart-share-summary")).to_contain_text("%")
    await watched.screenshot("page")
    await watched.screenshot(request.node.name)

    await page.set_viewport_size(PHONE)
    await watched.screenshot(f"{request.node.name}-375")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    assert len(watched.navigations) == 1
    watched.assert_quiet()


async def test_upload_and_schedule_in_one_step(
    watched: WatchedPage, system: RunningSystem, media_dir: Path, request
):
    page = await open_page(watched, system.web_url)

    await page.select_option("#image-operation", "thumbnail")
    await page.fill("#image-param-size", "64")
    await page.set_input_files("#files", media_dir / "chelsea.png")
    await page.click("#upload-schedule-button")

    await expect(page.locator("#message")).to_contain_text(
        "1 file uploaded and scheduled"
    )
    task = task_row(page, "chelsea.png")
    await expect(task).to_have_attribute(
        "data-status", "completed", timeout=TASK_TIMEOUT_MS
    )
    await expect(task.locator("td").nth(1)).to_have_text("thumbnail size=64")
    await watched.screenshot(request.node.name)
    assert len(watched.navigations) == 1
    watched.assert_quiet()


async def test_keyboard_reaches_the_file_picker_then_the_upload_button(
    watched: WatchedPage, system: RunningSystem
):
    page = await open_page(watched, system.web_url)

    reached: list[str] = []
    for _ in range(40):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.id"))
        if reached[-1] == "upload-button":
            break

    assert reached[0] == "skip-link"
    assert "files" in reached and "upload-button" in reached
    assert reached.index("files") < reached.index("upload-button")
    assert "image-operation" in reached and "video-operation" in reached
    watched.assert_quiet()


DROP_TWO_FILES = """() => {
    const transfer = new DataTransfer();
    const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
    transfer.items.add(new File([png], "dropped.png", { type: "image/png" }));
    transfer.items.add(new File(["hello"], "notes.txt", { type: "text/plain" }));
    const zone = document.getElementById("drop-zone");
    for (const type of ["dragenter", "dragover", "drop"]) {
        const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
        zone.dispatchEvent(new DragEvent(type, init));
    }
}"""


async def test_dropped_files_join_the_upload_list(
    watched: WatchedPage, system: RunningSystem
):
    page = await open_page(watched, system.web_url)

    await page.evaluate(DROP_TWO_FILES)

    items = page.locator("#file-list .file-item")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("dropped.png")
    await expect(items.nth(1)).to_have_attribute("data-state", "unsupported")
    await expect(page.locator("#file-count")).to_have_text("1 file ready to upload")
    await items.nth(1).get_by_role("button", name="Remove notes.txt").click()
    await expect(items).to_have_count(1)
    assert await page.evaluate("document.activeElement.id") == "files"
    watched.assert_quiet()
