"""Which file format each operation writes, shared by naming and processing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from media.formats import IMAGE, VIDEO

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageTarget:
    """An image output format."""

    pillow_format: str
    content_type: str
    extension: str


@dataclass(frozen=True)
class VideoTarget:
    """A video output format: codec plus container."""

    codec: str
    container: str
    content_type: str
    extension: str


PNG = ImageTarget("PNG", "image/png", "png")
JPEG = ImageTarget("JPEG", "image/jpeg", "jpg")
WEBP = ImageTarget("WEBP", "image/webp", "webp")
H264_MP4 = VideoTarget("h264", "mp4", "video/mp4", "mp4")
VP9_WEBM = VideoTarget("vp9", "webm", "video/webm", "webm")

# Formats Pillow writes well are kept; GIF, BMP and TIFF results become PNG.
_KEEP_IMAGE = {"image/png": PNG, "image/jpeg": JPEG, "image/webp": WEBP}
_CONVERT_IMAGE = {"png": PNG, "jpeg": JPEG, "webp": WEBP}
_VIDEO_CODECS = {"h264": H264_MP4, "vp9": VP9_WEBM}


def image_target(
    source_content_type: str, operation: str, params: Mapping[str, object]
) -> ImageTarget:
    """Return the format an image operation writes for a given input type."""
    if operation == "convert":
        return _CONVERT_IMAGE[str(params.get("format", "png"))]
    return _KEEP_IMAGE.get(source_content_type, PNG)


def video_target(
    operation: str, params: Mapping[str, object]
) -> VideoTarget | ImageTarget:
    """Return the format a video operation writes."""
    if operation == "thumbnail":
        return PNG
    return _VIDEO_CODECS[str(params.get("codec", "h264"))]


def output_target(
    kind: str, source_content_type: str, operation: str, params: Mapping[str, object]
) -> VideoTarget | ImageTarget:
    """Return the output format for any kind of media."""
    if kind == IMAGE:
        return image_target(source_content_type, operation, params)
    if kind == VIDEO:
        return video_target(operation, params)
    raise ValueError(f"unknown media kind {kind!r}")
