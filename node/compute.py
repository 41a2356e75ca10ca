"""Where a job's operation runs: small images on the event loop, the rest on threads.

Handing a job to a thread and back costs more than grayscaling a 64x64 PNG
(thread wake-ups, GIL hand-overs, a self-pipe write), so images of a few
thousand pixels are processed where the job already is. Everything else,
and every video, runs on a compute thread. Either way a job holds one of the
node's compute slots while it computes, so the node's capacity stays what
its heartbeat says.
"""

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

import media
from media.progress import ProgressCallback
from node.emulation import Emulation

logger = logging.getLogger(__name__)

INLINE_MAX_PIXELS = 256 * 256
"""Images up to this many pixels are processed on the event loop."""

HEADER_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


def fits_inline(kind: str, data: bytes | None) -> bool:
    """Whether an input held in memory is an image small enough for the loop.

    Only the header is read. A file that does not open here is left to the
    compute thread, where the media code says what is wrong with it; a tiny
    file that declares a huge image (a compression bomb) goes there too.
    """
    if kind != "image" or data is None:
        return False
    try:
        with Image.open(io.BytesIO(data), formats=HEADER_FORMATS) as image:
            return image.width * image.height <= INLINE_MAX_PIXELS
    except Exception:  # Pillow raises many types for bad headers
        return False


class Compute:
    """Runs media operations within the node's compute slots."""

    def __init__(self, threads: int, emulation: Emulation) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="compute")
        self._slots = asyncio.Semaphore(threads)
        self._emulation = emulation
        self._in_thread = emulation.slowed(media.process)

    def close(self) -> None:
        """Release the compute threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(
        self,
        kind: str,
        operation: str,
        params: dict,
        input_path: Path,
        output_path: Path,
        progress: ProgressCallback,
        inline: bool,
    ) -> media.OutputInfo:
        """Process input_path into output_path; raise media.MediaError if it can't."""
        async with self._slots:
            if not inline:
                return await asyncio.get_running_loop().run_in_executor(
                    self._pool,
                    self._in_thread,
                    kind,
                    operation,
                    params,
                    input_path,
                    output_path,
                    progress,
                )
            return await self._emulation.slowed_here(
                media.process,
                kind,
                operation,
                params,
                input_path,
                output_path,
                progress,
            )
