"""Helpers that inspect encoded videos with PyAV."""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Decoded:
    """What a decoded output video looks like."""

    codec: str
    container: str
    frames: int
    width: int
    height: int
    rate: Fraction | None
    max_channel_spread: int


def decode(path: Path) -> Decoded:
    """Decode every frame of path, measuring how far pixels are from gray."""
    spread = 0
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
            spread = max(spread, int(np.abs(rgb - rgb[..., :1]).max()))
            frames += 1
        return Decoded(
            codec=stream.codec_context.name,
            container=container.format.name,
            frames=frames,
            width=stream.width,
            height=stream.height,
            rate=stream.average_rate,
            max_channel_spread=spread,
        )
