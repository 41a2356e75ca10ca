"""Bounded memory and time for the decompression bomb and a 10,000-frame thumbnail.

Each runs alone through the real system while the peak resident memory of
both node processes is measured (VmHWM, reset through /proc/<pid>/clear_refs
just before): whichever node the coordinator picks, its growth is bounded.

Why these limits:
- The PNG bomb declares 50,000 x 50,000 RGB pixels: 7.5 GB if decoded, and
  even 1 % of its rows would be 75 MB. The node must refuse it from the
  header, so its peak may grow by no more than MEMORY_GROWTH_LIMIT (32 MB:
  Python's own churn receiving, writing and reporting a job is a few MB).
- The 10,000-frame video is 160x120: every decoded frame is 28.8 KB of YUV,
  so a decoder that kept them would hold 288 MB; the contact sheet itself is
  640x360 RGB (0.7 MB). Decoding a frame at a time stays well under 32 MB.
- Time, bomb: refused from its 141 bytes, the task ends about 0.1 s after
  its upload here. BOMB_LIMIT_S (10 s) only allows for a loaded machine; a
  node that began decoding 7.5 GB would take minutes, or be killed.
- Time, thumbnail: here the 74 ms of compute (the seeking sampler decodes
  about 1,000 frames; a straight decode of all 10,000 takes about 0.3 s)
  make the whole task, upload to completion, about 0.15 s. The machine has
  2 cores shared by nats-server, four services and the test, and a busy CI
  runner can be ten times slower still: 60 s is a safety limit, far above
  that, which fails only when the work grows with the video as it must not
  (each frame decoded many times) or the node stalls. It is not a speed
  benchmark.
"""

import aiohttp
import pytest

from tests.hostile import corpus
from tests.hostile.conftest import (
    PeakMemory,
    Stopwatch,
    final_record,
    normal_task_completes,
    services_alive,
    upload_task,
)

NODES = ("edge", "cloud")
MEMORY_GROWTH_LIMIT = 32 * 1024 * 1024
BOMB_LIMIT_S = 10.0
LONG_THUMBNAIL_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def long_video() -> bytes:
    """The 10,000-frame clip, made once (about 3 s of encoding)."""
    return corpus.long_video()


async def run_alone(
    system, session: aiohttp.ClientSession, data: bytes, filename: str, **fields: str
) -> tuple[dict, dict[str, int], float]:
    """Process one file with nothing else running: record, growth per node, seconds."""
    meters = {name: PeakMemory(system.processes[name].pid) for name in NODES}
    before = {name: meter.current_bytes() for name, meter in meters.items()}
    for meter in meters.values():
        meter.reset()
    operation = fields.pop("operation")
    watch = Stopwatch()

    task = await upload_task(session, system, data, filename, operation, None, fields)
    record = await final_record(session, system, task["id"])

    elapsed_s = watch.elapsed_s
    growth = {name: meters[name].peak_bytes() - before[name] for name in NODES}
    return record, growth, elapsed_s


async def test_the_png_bomb_fails_from_its_header_in_bounded_memory(system, session):
    bomb = corpus.png_bomb()
    assert len(bomb) < 1024

    record, growth, elapsed_s = await run_alone(
        system, session, bomb, "bomb.png", operation="grayscale"
    )

    assert record["status"] == "failed", record
    assert "image is too large" in record["error"]
    assert "100 megapixels" in record["error"]
    assert elapsed_s < BOMB_LIMIT_S
    assert max(growth.values()) < MEMORY_GROWTH_LIMIT, growth


async def test_a_10000_frame_thumbnail_completes_in_bounded_time_and_memory(
    system, session, long_video
):
    record, growth, elapsed_s = await run_alone(
        system, session, long_video, "long.mp4", operation="thumbnail"
    )

    assert record["status"] == "completed", record
    assert record["output_type"] == "image/png"
    assert elapsed_s < LONG_THUMBNAIL_LIMIT_S
    assert max(growth.values()) < MEMORY_GROWTH_LIMIT, growth


async def test_after_the_bounds_a_normal_task_completes(system, session, media_dir):
    await normal_task_completes(session, system, media_dir)
    services_alive(system)
