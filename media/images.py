"""Run one image operation from an input file to an output file."""

from __future__ import annotations

import logging
from pathlib import Path

from media.failures import failures_as
from media.image_io import (
    open_image,
    same_color_family,
    save_image,
    source_content_type,
    to_working_mode,
)
from media.image_ops import IMAGE_OPERATIONS
from media.outputs import OutputInfo
from media.params import Params, integer
from media.targets import image_target

logger = logging.getLogger(__name__)

# Quality for re-encoding JPEG/WebP when the operation is not an explicit convert.
_KEEP_QUALITY = 90


def process_image(
    operation: str, params: Params, input_path: Path, output_path: Path
) -> OutputInfo:
    """Apply an image operation; animations are reduced to their first frame."""
    apply = IMAGE_OPERATIONS[operation]
    with failures_as("cannot decode image"):
        image = open_image(input_path)
    with image:
        source_type = source_content_type(image)
        with failures_as("cannot decode image"):
            if operation == "thumbnail" and image.format in ("JPEG", "MPO"):
                # libjpeg can decode at 1/2..1/8 scale: far less work for photos.
                side = integer(params, "size")
                image.draft(None, (side, side))
            image.load()
            source_mode = image.mode
            icc_profile = image.info.get("icc_profile")
            working = to_working_mode(image)
        with failures_as("cannot process image"):
            result = apply(working, params)
        target = image_target(source_type, operation, params)
        quality = integer(params, "quality") if "quality" in params else _KEEP_QUALITY
        keep_profile = isinstance(icc_profile, bytes) and same_color_family(
            source_mode, result.mode
        )
        with failures_as("cannot write image"):
            save_image(
                result,
                output_path,
                target,
                quality,
                icc_profile if keep_profile else None,
            )
    return OutputInfo(
        content_type=target.content_type,
        size_bytes=output_path.stat().st_size,
        width=result.width,
        height=result.height,
        frames=None,
        extension=target.extension,
    )
