"""Helpers that make untrusted values safe to quote in error messages."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_QUOTE_LIMIT = 40


def quote(value: object, limit: int = _QUOTE_LIMIT) -> str:
    """Return a short repr() of a user-supplied value for an error message."""
    # repr() escapes control characters, so a hostile value cannot forge
    # extra lines in logs or pages; the cap keeps messages readable.
    try:
        shown = repr(value)
    except (ValueError, RecursionError):
        # An int past Python's digit limit for text, or a structure nested
        # deeper than the stack: say what it is rather than fail the message.
        shown = f"<{type(value).__name__} too large to show>"
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return shown
