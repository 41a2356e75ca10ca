"""Size limits shared by validation and processing."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# Largest width or height any output may have.
MAX_SIDE = 8192
# Largest input an image may decode to; beyond this it is treated as a bomb.
MAX_PIXELS = 100_000_000
# Largest resize factor.
MAX_SCALE = 8.0
