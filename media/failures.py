"""Turn library exceptions into ProcessingFailed with a readable reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from media.errors import MediaError, ProcessingFailed
from media.progress import CallbackError

logger = logging.getLogger(__name__)

_BARE_NAMES = {
    MemoryError: "out of memory",
    EOFError: "unexpected end of file",
}


def describe(exc: BaseException) -> str:
    """Return a short human-readable reason for exc, without file paths."""
    for kind, text in _BARE_NAMES.items():
        if isinstance(exc, kind) and not str(exc):
            return text
    # OSError and FFmpeg errors carry the path separately; strerror is the
    # part a user can act on, and internal paths must not leak into messages.
    strerror = getattr(exc, "strerror", None)
    reason = strerror if isinstance(strerror, str) and strerror else str(exc)
    reason = reason.strip() or type(exc).__name__
    return reason[0].lower() + reason[1:] if reason[:2].istitle() else reason


@contextmanager
def failures_as(prefix: str) -> Iterator[None]:
    """Re-raise unexpected exceptions from the block as ProcessingFailed(prefix)."""
    try:
        yield
    except (MediaError, CallbackError):
        raise
    except Exception as exc:
        logger.debug("%s", prefix, exc_info=True)
        raise ProcessingFailed(f"{prefix}: {describe(exc)}") from exc
