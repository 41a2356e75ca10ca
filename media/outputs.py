"""Description of a finished result."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputInfo:
    """What process() wrote: type, size, dimensions and extension (no dot)."""

    content_type: str
    size_bytes: int
    width: int | None
    height: int | None
    frames: int | None
    extension: str
