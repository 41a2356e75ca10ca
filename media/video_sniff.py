"""Recognise video containers by their first bytes, before FFmpeg sees the file."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

HEAD_BYTES = 1024

# Top-level boxes an MP4/QuickTime file may start with.
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
_TS_SYNC = 0x47

# Only used to word the error when someone sends an image as a video.
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)


def read_head(path: Path) -> bytes:
    """Return the first bytes of a file."""
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


def detect_demuxer(head: bytes) -> str | None:
    """Return the FFmpeg demuxer for a supported container, or None."""
    # Forcing the demuxer stops FFmpeg from probing text formats such as HLS
    # playlists, which would make it open other files named inside the upload.
    if head[4:8] in _MP4_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if head.startswith(b"\x00\x00\x01\xb3"):
        return "mpegvideo"
    if _is_transport_stream(head):
        return "mpegts"
    return None


def _is_transport_stream(head: bytes) -> bool:
    # Plain TS packets are 188 bytes; Blu-ray/AVCHD (M2TS) prefix 4 bytes.
    for size, offset in ((188, 0), (192, 4)):
        positions = [offset + size * i for i in range(3)]
        if len(head) > positions[-1] and all(head[p] == _TS_SYNC for p in positions):
            return True
    return False


def describe_unrecognised(head: bytes) -> str:
    """Explain in words why a file is not a supported video."""
    if not head:
        return "the file is empty"
    for magic, what in _IMAGE_MAGIC:
        if head.startswith(magic):
            return f"it looks like {what}"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "it looks like a WebP image"
    return (
        "unrecognised container (expected MP4, QuickTime, WebM, Matroska, AVI or MPEG)"
    )
