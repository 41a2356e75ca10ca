"""Decoding and encoding images with Pillow, with safe limits."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image, ImageOps

from media.errors import ProcessingFailed
from media.limits import MAX_PIXELS
from media.targets import JPEG, ImageTarget

logger = logging.getLogger(__name__)

# Pillow refuses anything over twice this, and our own check below is exact.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Only these decoders run on uploads: fewer plugins, less attack surface
# (some Pillow plugins, such as EPS, shell out to other programs).
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")

SOURCE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WORKING_MODES = frozenset({"L", "LA", "RGB", "RGBA"})
_WHITE = (255, 255, 255)


def open_image(path: Path) -> Image.Image:
    """Open an image lazily (header only) and refuse oversized ones."""
    try:
        image = Image.open(path, formats=PILLOW_FORMATS)
    except Image.UnidentifiedImageError:
        raise ProcessingFailed(
            "input is not a decodable image (supported: PNG, JPEG, WebP, GIF,"
            " BMP, TIFF)"
        ) from None
    except Image.DecompressionBombError:
        raise ProcessingFailed(_too_large_message()) from None
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise ProcessingFailed(_too_large_message(image.width, image.height))
    return image


def _too_large_message(width: int = 0, height: int = 0) -> str:
    size = f" ({width}x{height})" if width else ""
    return (
        f"image is too large{size}; the limit is {MAX_PIXELS // 1_000_000} megapixels"
    )


def source_content_type(image: Image.Image) -> str:
    """Return the content type of the format Pillow detected."""
    return SOURCE_TYPES.get(image.format or "", "image/png")


def to_working_mode(image: Image.Image) -> Image.Image:
    """Return image upright in L, LA, RGB or RGBA (itself if it already is)."""
    ImageOps.exif_transpose(image, in_place=True)
    mode = image.mode
    if mode in _WORKING_MODES:
        return image
    if mode.startswith("I"):
        # 16-bit samples: keep the top 8 bits rather than clipping at 255.
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if mode in ("1", "F"):
        return image.convert("L")
    if mode == "P":
        has_alpha = "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    return image.convert("RGBA" if mode in _ALPHA_MODES else "RGB")


def _color_family(mode: str) -> str:
    if mode in ("RGB", "RGBA", "RGBa", "RGBX", "P", "PA"):
        return "rgb"
    if mode in ("1", "L", "LA", "La", "F") or mode.startswith("I"):
        return "gray"
    return mode


def same_color_family(source_mode: str, result_mode: str) -> bool:
    """Tell whether an ICC profile for source_mode still fits result_mode."""
    return _color_family(source_mode) == _color_family(result_mode)


def flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite an image with alpha onto white, for formats without alpha."""
    if image.mode not in ("RGBA", "LA"):
        return image
    base_mode = image.mode[:-1]
    white = 255 if base_mode == "L" else _WHITE
    background = Image.new(base_mode, image.size, white)
    background.paste(image.convert(base_mode), mask=image.getchannel("A"))
    return background


def save_image(
    image: Image.Image,
    path: Path,
    target: ImageTarget,
    quality: int,
    icc_profile: bytes | None,
) -> None:
    """Write image to path in the target format."""
    options: dict[str, object] = {}
    if target == JPEG:
        image = flatten_alpha(image)
        options["quality"] = quality
    elif target.pillow_format == "WEBP":
        options["quality"] = quality
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(path, format=target.pillow_format, **options)
