"""Display names for results, safe to offer as a download filename."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping

from media.formats import EXTENSION_TYPES, filename_suffix, normalize_content_type
from media.targets import output_target
from media.validation import lookup_operation

logger = logging.getLogger(__name__)

MAX_STEM = 120
FALLBACK_STEM = "file"

# Characters that break Content-Disposition headers or shell-pasted names.
_UNSAFE = re.compile(r'[/\\"\'`<>|:*?;]')
_SPACES = re.compile(r"\s+")


def sanitize_stem(filename: str) -> str:
    """Return a filename's stem cleaned for display, or "file" if nothing is left."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ = base.rpartition(".")
    if not dot or not stem:
        stem = base
    # Cc covers NUL and other controls; Cf covers bidi overrides that can make
    # "gpj.exe" display as "exe.jpg".
    visible = "".join(
        ch for ch in stem if unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    cleaned = _SPACES.sub(" ", _UNSAFE.sub("_", visible)).strip(" ._-")
    cleaned = cleaned[:MAX_STEM].rstrip(" .")
    return cleaned or FALLBACK_STEM


def output_name(
    input_filename: str,
    kind: str,
    operation: str,
    params: Mapping[str, object],
    *,
    content_type: str | None = None,
) -> tuple[str, str]:
    """Return (display filename, content type) of an operation's result."""
    declared = normalize_content_type(content_type)
    source = declared or EXTENSION_TYPES.get(filename_suffix(input_filename), "")
    # Rejecting unknown names keeps arbitrary text out of the filename.
    lookup_operation(kind, operation)
    target = output_target(kind, source, operation, params)
    stem = sanitize_stem(input_filename)
    return f"{stem}-{operation}.{target.extension}", target.content_type
