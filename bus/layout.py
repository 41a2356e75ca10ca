"""Waiting for the JetStream layout, for services that may not create it.

The coordinator and the web service provision the streams and buckets
(`bus.provision`). Nodes hold no right to create or change streams when the
server enforces permissions (`bus.nats_auth`), so they only wait until what
they use exists, asking for each stream's info.
"""

import asyncio
import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bus import subjects

logger = logging.getLogger(__name__)

NODE_STREAMS = (
    subjects.JOBS_STREAM,
    subjects.EVENTS_STREAM,
    f"KV_{subjects.NODES_BUCKET}",
    f"OBJ_{subjects.FILES_BUCKET}",
)
"""The streams a node uses: its jobs, the events, heartbeats and files."""


async def missing_streams(js: JetStreamContext, names: Sequence[str]) -> list[str]:
    """The streams among `names` that do not exist yet."""
    missing = []
    for name in names:
        try:
            await js.stream_info(name)
        except NotFoundError:
            missing.append(name)
    return missing


async def wait_for_streams(
    js: JetStreamContext, names: Sequence[str] = NODE_STREAMS, poll_s: float = 0.5
) -> None:
    """Return once every stream in `names` exists; say once what it waits for."""
    missing = await missing_streams(js, names)
    if not missing:
        return
    logger.info(
        "waiting for the coordinator or the web service to create %s",
        ", ".join(missing),
    )
    while missing:
        await asyncio.sleep(poll_s)
        missing = await missing_streams(js, missing)
    logger.info("JetStream streams and buckets are ready")
