"""The Range request header (RFC 9110, section 14): one byte range at a time.

A single range is served as a 206; a header in another unit, or one asking
for several ranges, is ignored and the whole file is sent, as the RFC allows.
A malformed or unsatisfiable byte range is a 416 naming the file's size.
"""

import re
from dataclasses import dataclass

from aiohttp import hdrs

from web.errors import ApiError

_SPEC = re.compile(r"\s*(\d{0,19})\s*-\s*(\d{0,19})\s*")


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of a file, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The Content-Range header of a 206 carrying this range."""
        return f"bytes {self.start}-{self.end}/{size}"


def not_satisfiable(size: int, reason: str) -> ApiError:
    """The 416 for a range this file cannot serve."""
    return ApiError(
        416,
        f"{reason}; the file has {size} bytes",
        field="Range",
        headers={hdrs.CONTENT_RANGE: f"bytes */{size}"},
        size=size,
    )


def parse_spec(spec: str, size: int) -> ByteRange:
    """One `first-last`, `first-` or `-suffix` spec, clipped to the file."""
    match = _SPEC.fullmatch(spec)
    if match is None or match.group(1) == match.group(2) == "":
        raise not_satisfiable(size, f"the range {spec.strip()[:40]!r} is malformed")
    first, last = match.group(1), match.group(2)

    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise not_satisfiable(size, "the range asks for no bytes")
        return ByteRange(max(size - suffix, 0), size - 1)

    start = int(first)
    if last != "" and int(last) < start:
        raise not_satisfiable(
            size, f"the range {spec.strip()[:40]!r} ends before it starts"
        )
    if start >= size:
        raise not_satisfiable(size, f"the range starts at byte {start}, past the end")
    end = size - 1 if last == "" else min(int(last), size - 1)
    return ByteRange(start, end)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range asked for, or None to send the whole file."""
    if header is None:
        return None
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    if "," in specs:
        return None
    return parse_spec(specs, size)


def range_applies(if_range: str | None, etag: str | None) -> bool:
    """Whether If-Range (when sent) still names this version of the file."""
    # Only strong entity tags validate; a date cannot, having no Last-Modified.
    return if_range is None or (etag is not None and if_range.strip() == etag)
