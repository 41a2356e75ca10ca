"""Untrusted filenames: kept as given for display, made safe for headers."""

import unicodedata
from urllib.parse import quote

MAX_FILENAME_CHARS = 255
FALLBACK_NAME = "upload"
_HEADER_UNSAFE = set('"\\/;')


def display_name(raw: str | None) -> str:
    """The name as given, without control characters, at most 255 characters."""
    # Only control characters go: they forge log lines and break headers. The
    # name is never used as a path, so '../' and friends are harmless text.
    visible = "".join(ch for ch in raw or "" if unicodedata.category(ch) != "Cc")
    return visible[:MAX_FILENAME_CHARS] or FALLBACK_NAME


def content_disposition(
    filename: str, fallback: str = "download", inline: bool = False
) -> str:
    """An RFC 6266 header: an ASCII fallback plus the UTF-8 name.

    `inline` lets a browser show the file in place (an <img> or <video>);
    otherwise it is saved as a download.
    """
    # Separators and quotes become '_' so a browser never sees a path or a
    # broken quoted string; format characters (bidi overrides) go entirely.
    cleaned = "".join(
        "_" if ch in _HEADER_UNSAFE else ch
        for ch in filename
        if unicodedata.category(ch) not in ("Cc", "Cf")
    ).strip()
    cleaned = cleaned or fallback
    folded = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode()
    ascii_name = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in _HEADER_UNSAFE else "_"
        for ch in folded
    ).strip()
    ascii_name = ascii_name or fallback
    encoded = quote(cleaned, safe="")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
