"""A request aiohttp cannot parse is one warning line, not an error traceback."""

import logging

import aiohttp
from aiohttp import web

from web import protocol_log


async def test_a_malformed_request_is_one_warning_without_a_traceback(caplog):
    protocol_log.install()
    protocol_log.install()  # twice: still one filter
    server_logger = logging.getLogger(protocol_log.SERVER_LOGGER)
    assert (
        sum(
            isinstance(f, protocol_log.MalformedRequestFilter)
            for f in server_logger.filters
        )
        == 1
    )

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caplog.set_level(logging.DEBUG, logger=protocol_log.SERVER_LOGGER)
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"X-Filler": "x" * 100_000}
            async with http.get(f"http://127.0.0.1:{port}/", headers=headers) as r:
                status = r.status
            async with http.get(f"http://127.0.0.1:{port}/") as reply:
                still_serving = reply.status
    finally:
        await runner.cleanup()

    records = [r for r in caplog.records if r.name == protocol_log.SERVER_LOGGER]
    assert status == 400 and still_serving == 200
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].exc_info is None
    assert "refused a malformed request from 127.0.0.1: 400" in records[0].getMessage()
    assert "Traceback" not in caplog.text
