"""Video thumbnail: a grid of frames sampled evenly across the video."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

from media.errors import ProcessingFailed
from media.failures import failures_as
from media.frame_sampling import FrameSampler
from media.geometry import checked_size
from media.outputs import OutputInfo
from media.params import Params, integer
from media.progress import ProgressReporter
from media.targets import PNG
from media.video_input import count_frames, open_video

logger = logging.getLogger(__name__)

_BACKGROUND = (24, 24, 24)


def sample_indices(frame_count: int, tiles: int) -> list[int]:
    """Return up to `tiles` distinct frame indices, centred in equal segments."""
    samples = min(frame_count, tiles)
    return [(2 * k + 1) * frame_count // (2 * samples) for k in range(samples)]


def make_contact_sheet(
    params: Params, input_path: Path, output_path: Path, reporter: ProgressReporter
) -> OutputInfo:
    """Write a PNG grid of evenly sampled frames, holding only the sheet in memory."""
    columns, rows = integer(params, "columns"), integer(params, "rows")
    tile_width = integer(params, "tile_width")
    with open_video(input_path) as source:
        frame_count = count_frames(source)
    wanted = sample_indices(frame_count, columns * rows)
    if not wanted:
        raise ProcessingFailed("cannot decode video: it contains no frames")
    sheet: Image.Image | None = None
    tile_height = 0
    # Reopened because counting may have read the file to the end.
    with open_video(input_path) as source:
        sampler = FrameSampler(source, frame_count)
        for placed, frame in enumerate(sampler.frames_at(wanted, reporter.update)):
            if sheet is None:
                tile_height = max(1, round(tile_width * frame.height / frame.width))
                size = checked_size(columns * tile_width, rows * tile_height)
                sheet = Image.new("RGB", size, _BACKGROUND)
            with failures_as("cannot decode video"):
                tile = frame.reformat(
                    tile_width, tile_height, "rgb24", interpolation="AREA"
                ).to_image()
            row, column = divmod(placed, columns)
            sheet.paste(tile, (column * tile_width, row * tile_height))
    logger.debug(
        "contact sheet of %d frames: %d decoded, %d seeks",
        frame_count,
        sampler.decoded,
        sampler.seeks,
    )
    if sheet is None:
        raise ProcessingFailed("cannot decode video: it contains no frames")
    with failures_as("cannot write image"):
        sheet.save(output_path, format=PNG.pillow_format)
    return OutputInfo(
        content_type=PNG.content_type,
        size_bytes=output_path.stat().st_size,
        width=sheet.width,
        height=sheet.height,
        frames=None,
        extension=PNG.extension,
    )
