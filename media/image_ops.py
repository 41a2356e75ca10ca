"""The image operations themselves, as functions of a Pillow image."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from PIL import Image, ImageFilter, ImageOps

from media.geometry import checked_size, resize_size
from media.params import Params, integer, number

logger = logging.getLogger(__name__)

ImageOperation = Callable[[Image.Image, Params], Image.Image]

# Exact, lossless transposes for right-angle rotations.
_RIGHT_ANGLES = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _color_only(
    image: Image.Image, apply: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """Apply a filter to the color bands, leaving any alpha band untouched."""
    if image.mode not in ("RGBA", "LA"):
        return apply(image)
    alpha = image.getchannel("A")
    result = apply(image.convert(image.mode[:-1]))
    result.putalpha(alpha)
    return result


def grayscale(image: Image.Image, params: Params) -> Image.Image:
    """Convert to gray, keeping transparency."""
    return image.convert("LA" if image.mode in ("RGBA", "LA") else "L")


def resize(image: Image.Image, params: Params) -> Image.Image:
    """Resize to the requested size."""
    size = resize_size(image.width, image.height, params)
    return image.resize(size, Image.Resampling.LANCZOS)


def thumbnail(image: Image.Image, params: Params) -> Image.Image:
    """Shrink to fit a square of the requested size."""
    side = integer(params, "size")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def rotate(image: Image.Image, params: Params) -> Image.Image:
    """Rotate counter-clockwise."""
    degrees = number(params, "degrees") % 360
    expand = bool(params["expand"])
    if degrees == 0:
        return image
    right_angle = _RIGHT_ANGLES.get(int(degrees)) if degrees.is_integer() else None
    if right_angle is not None and (expand or degrees == 180):
        return image.transpose(right_angle)
    if expand:
        # Expanded canvases grow by up to sqrt(2); keep them within limits.
        rotated_w, rotated_h = _rotated_size(image.width, image.height, degrees)
        checked_size(rotated_w, rotated_h)
    return image.rotate(degrees, Image.Resampling.BICUBIC, expand=expand)


def _rotated_size(width: int, height: int, degrees: float) -> tuple[int, int]:
    rad = math.radians(degrees)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    return math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)


def flip(image: Image.Image, params: Params) -> Image.Image:
    """Mirror horizontally or vertically."""
    if params["direction"] == "vertical":
        return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def blur(image: Image.Image, params: Params) -> Image.Image:
    """Gaussian blur."""
    return image.filter(ImageFilter.GaussianBlur(number(params, "radius")))


def sharpen(image: Image.Image, params: Params) -> Image.Image:
    """Unsharp-mask sharpening."""
    mask = ImageFilter.UnsharpMask(
        radius=number(params, "radius"),
        percent=integer(params, "percent"),
        threshold=integer(params, "threshold"),
    )
    return _color_only(image, lambda color: color.filter(mask))


def edges(image: Image.Image, params: Params) -> Image.Image:
    """Find edges."""
    return _color_only(image, lambda color: color.filter(ImageFilter.FIND_EDGES))


def autocontrast(image: Image.Image, params: Params) -> Image.Image:
    """Stretch the histogram to the full range."""
    cutoff = number(params, "cutoff")
    return _color_only(image, lambda color: ImageOps.autocontrast(color, cutoff))


def convert(image: Image.Image, params: Params) -> Image.Image:
    """Leave pixels unchanged; the format change happens when saving."""
    return image


IMAGE_OPERATIONS: Mapping[str, ImageOperation] = {
    "grayscale": grayscale,
    "resize": resize,
    "thumbnail": thumbnail,
    "rotate": rotate,
    "flip": flip,
    "blur": blur,
    "sharpen": sharpen,
    "edges": edges,
    "autocontrast": autocontrast,
    "convert": convert,
}
