"""Target sizes for resize requests."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from media.errors import ProcessingFailed
from media.limits import MAX_SIDE

logger = logging.getLogger(__name__)


def resize_size(
    width: int, height: int, params: Mapping[str, object], even: bool = False
) -> tuple[int, int]:
    """Return the output size for a resize of a width x height source."""
    want_w, want_h, scale = (
        params.get("width"),
        params.get("height"),
        params.get("scale"),
    )
    if isinstance(scale, (int, float)):
        new_w, new_h = round(width * scale), round(height * scale)
    elif isinstance(want_w, int) and isinstance(want_h, int):
        new_w, new_h = want_w, want_h
    elif isinstance(want_w, int):
        new_w, new_h = want_w, round(height * want_w / width)
    elif isinstance(want_h, int):
        new_w, new_h = round(width * want_h / height), want_h
    else:
        raise ProcessingFailed("resize needs width and/or height, or scale")
    return checked_size(new_w, new_h, even)


def checked_size(width: int, height: int, even: bool = False) -> tuple[int, int]:
    """Clamp a computed size to at least 1 (or 2 if even) and enforce MAX_SIDE."""
    if even:
        # 4:2:0 chroma needs even sides; rounding down never exceeds the request.
        width, height = max(2, width - width % 2), max(2, height - height % 2)
    else:
        width, height = max(1, width), max(1, height)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ProcessingFailed(
            f"result would be {width}x{height} px; the maximum is {MAX_SIDE} px"
            " per side"
        )
    return width, height
