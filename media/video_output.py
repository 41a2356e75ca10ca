"""Encoding frames into an MP4 (H.264) or WebM (VP9) file."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import av
from av.container import OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from media.failures import failures_as
from media.targets import VideoTarget
from media.video_input import CODEC_THREADS

logger = logging.getLogger(__name__)

PIXEL_FORMAT = "yuv420p"

# Speed-leaning presets: nodes are small and jobs should finish quickly.
_ENCODERS: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType(
    {
        "h264": ("libx264", {"preset": "veryfast"}),
        "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"}),
    }
)
# faststart moves the index to the front so browsers can play while downloading.
_MUXER_OPTIONS: Mapping[str, dict[str, str]] = MappingProxyType(
    {"mp4": {"movflags": "+faststart"}}
)


class VideoWriter:
    """Encodes frames at a constant frame rate into an open output container."""

    def __init__(self, container: OutputContainer, stream: VideoStream, rate: Fraction):
        self._container = container
        self._stream = stream
        self._time_base = 1 / rate
        self.frames = 0

    def write(self, frame: VideoFrame) -> None:
        """Encode one frame that already has the output size and pixel format."""
        # Renumbering gives a clean constant-rate timeline even when the
        # input's timestamps are missing or out of order.
        frame.pts = self.frames
        frame.time_base = self._time_base
        with failures_as("cannot encode video"):
            self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def flush(self) -> None:
        """Drain frames the encoder still holds (B-frames, lookahead)."""
        with failures_as("cannot encode video"):
            self._container.mux(self._stream.encode(None))


@contextmanager
def open_writer(
    path: Path,
    target: VideoTarget,
    width: int,
    height: int,
    rate: Fraction,
    bitrate: int,
) -> Iterator[VideoWriter]:
    """Open an encoder for target; frames are flushed when the block succeeds."""
    encoder, options = _ENCODERS[target.codec]
    with failures_as("cannot encode video"):
        container = av.open(
            str(path),
            "w",
            format=target.container,
            container_options=dict(_MUXER_OPTIONS.get(target.container, {})),
        )
    try:
        with failures_as("cannot encode video"):
            stream = container.add_stream(encoder, rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = PIXEL_FORMAT
            stream.bit_rate = bitrate
            stream.options = dict(options)
            stream.codec_context.thread_count = CODEC_THREADS
        writer = VideoWriter(container, stream, rate)
        yield writer
        writer.flush()
    except BaseException:
        _close_quietly(container)
        raise
    with failures_as("cannot finish video file"):
        container.close()


def _close_quietly(container: OutputContainer) -> None:
    # Already failing: the first error is the one worth reporting.
    try:
        container.close()
    except Exception:
        logger.debug("closing a failed output also failed", exc_info=True)
