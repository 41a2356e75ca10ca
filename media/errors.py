"""Exceptions raised by the media package."""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)


class MediaError(Exception):
    """Base class for every error the media package raises on purpose."""


class InvalidOperation(MediaError):
    """An operation name or one of its parameters is not acceptable."""

    def __init__(self, field: str, message: str, valid: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.valid = list(valid)


class UnsupportedMedia(MediaError):
    """The uploaded file is neither a supported image nor a supported video."""

    def __init__(self, message: str, supported: Iterable[str]) -> None:
        super().__init__(message)
        self.supported = list(supported)


class ProcessingFailed(MediaError):
    """The input could not be decoded, transformed or written."""
