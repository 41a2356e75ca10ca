"""Supported content types and how an upload is classified as image or video."""

from __future__ import annotations

import logging
from types import MappingProxyType

from media.errors import UnsupportedMedia
from media.text import quote

logger = logging.getLogger(__name__)

IMAGE = "image"
VIDEO = "video"
KINDS = (IMAGE, VIDEO)

SUPPORTED_TYPES: dict[str, str] = {
    "image/png": IMAGE,
    "image/jpeg": IMAGE,
    "image/webp": IMAGE,
    "image/gif": IMAGE,
    "image/bmp": IMAGE,
    "image/tiff": IMAGE,
    "video/mp4": VIDEO,
    "video/webm": VIDEO,
    "video/quicktime": VIDEO,
    "video/x-matroska": VIDEO,
    "video/x-msvideo": VIDEO,
    "video/mpeg": VIDEO,
}

EXTENSION_TYPES = MappingProxyType(
    {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
        "bmp": "image/bmp",
        "tif": "image/tiff",
        "tiff": "image/tiff",
        "mp4": "video/mp4",
        "m4v": "video/mp4",
        "webm": "video/webm",
        "mov": "video/quicktime",
        "mkv": "video/x-matroska",
        "avi": "video/x-msvideo",
        "mpg": "video/mpeg",
        "mpeg": "video/mpeg",
    }
)

# Non-standard spellings that browsers and older clients still send.
_TYPE_ALIASES = MappingProxyType(
    {
        "image/jpg": "image/jpeg",
        "image/pjpeg": "image/jpeg",
        "image/x-png": "image/png",
        "image/x-ms-bmp": "image/bmp",
        "image/x-bmp": "image/bmp",
        "video/x-m4v": "video/mp4",
        "video/matroska": "video/x-matroska",
        "video/avi": "video/x-msvideo",
        "video/msvideo": "video/x-msvideo",
    }
)

# Longer than any extension above; anything longer cannot match anyway.
_MAX_SUFFIX = 8


def normalize_content_type(content_type: str | None) -> str:
    """Lower-case a content type, drop its parameters and resolve known aliases."""
    if not content_type:
        return ""
    bare = content_type.split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(bare, bare)


def filename_suffix(filename: str) -> str:
    """Return the lower-case extension of an untrusted filename, without the dot."""
    # Pure string work: the name may hold '..', NUL or anything else, and it
    # must never reach the filesystem.
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem or len(suffix) > _MAX_SUFFIX:
        return ""
    return suffix.lower()


def media_kind(filename: str, content_type: str | None) -> tuple[str, str]:
    """Classify an upload as ("image" | "video", normalized content type)."""
    declared = normalize_content_type(content_type)
    if declared in SUPPORTED_TYPES:
        return SUPPORTED_TYPES[declared], declared
    inferred = EXTENSION_TYPES.get(filename_suffix(filename or ""))
    if inferred is not None:
        return SUPPORTED_TYPES[inferred], inferred
    supported = list(SUPPORTED_TYPES)
    shown = f"content type {quote(declared)}" if declared else "no content type"
    suffix = filename_suffix(filename or "")
    ext = f"extension {quote('.' + suffix)}" if suffix else "no extension"
    raise UnsupportedMedia(
        f"unsupported media ({shown}, {ext}); supported types: " + ", ".join(supported),
        supported,
    )
