"""The nodes panel lists the live nodes, and follows them as they come and go."""

import re

from playwright.async_api import expect

from tests.browser.helpers import WatchedPage, open_page
from tests.e2e.system import RunningSystem

NODE_TIMEOUT_MS = 30_000
HEARTBEAT_AGE = re.compile(r"^\d+ s ago$")


async def test_nodes_panel_lists_edge_and_cloud_nodes_as_they_come_and_go(
    watched: WatchedPage, system: RunningSystem
):
    page = await open_page(watched, system.web_url)
    edge = page.locator('#node-list .node[data-node-id="edge-1"]')
    cloud = page.locator('#node-list .node[data-node-id="cloud-1"]')

    await expect(edge.locator(".badge")).to_have_text("edge")
    await expect(cloud.locator(".badge")).to_have_text("cloud")
    for node in (edge, cloud):
        await expect(node).to_contain_text("Speed")
        await expect(node).to_contain_text("Backlog")
        await expect(node.locator("dd").last).to_have_text(HEARTBEAT_AGE)
    await expect(page.locator("#nodes-summary")).to_have_text("1 edge, 1 cloud")

    system.start("edge-2", "edge_node", NODE_ID="edge-2")
    try:
        newcomer = page.locator('#node-list .node[data-node-id="edge-2"]')
        await expect(newcomer).to_be_visible(timeout=NODE_TIMEOUT_MS)
        order = await page.locator("#node-list .node").evaluate_all(
            "nodes => nodes.map(node => node.dataset.nodeId)"
        )
        assert order == ["edge-1", "edge-2", "cloud-1"]
    finally:
        system.stop("edge-2")
    await expect(newcomer).to_have_count(0, timeout=NODE_TIMEOUT_MS)
    await expect(page.locator("#nodes-summary")).to_have_text("1 edge, 1 cloud")

    assert len(watched.navigations) == 1
    watched.assert_quiet()
