"""The web service as a real process: start-up warning, token, prompt shutdown."""

import asyncio
import signal
import time

import aiohttp

from tests.web.conftest import StartWeb

TOKEN = "process-test-token"
QUICK_SHUTDOWN_S = 5.0


async def test_an_open_api_is_announced_with_a_warning_line(start_web: StartWeb):
    web = await start_web()

    assert "WARNING web.auth: API_TOKEN is not set" in web.log()


async def test_a_token_guards_the_process_and_stays_out_of_its_access_log(
    start_web: StartWeb,
):
    web = await start_web(API_TOKEN=TOKEN, VERBOSE="true")

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{web.url}/api/v1/tasks") as refused:
            assert refused.status == 401
        url = f"{web.url}/api/v1/tasks?access_token={TOKEN}"
        async with session.get(url) as allowed:
            assert allowed.status == 200
    await asyncio.sleep(0.2)  # the access log line is written after the answer

    log = web.log()
    assert "API_TOKEN is not set" not in log
    assert "/api/v1/tasks?access_token=" in log
    assert TOKEN not in log


async def test_sigterm_ends_open_event_streams_and_the_process_promptly(
    start_web: StartWeb,
):
    web = await start_web()

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{web.url}/api/v1/events") as stream:
            assert stream.status == 200
            await stream.content.readline()
            started = time.monotonic()
            web.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(QUICK_SHUTDOWN_S):
                rest = await stream.content.read()
            code = await asyncio.to_thread(web.process.wait, QUICK_SHUTDOWN_S)

    assert code == 0, web.log()
    assert time.monotonic() - started < QUICK_SHUTDOWN_S
    assert b"event:" not in rest
