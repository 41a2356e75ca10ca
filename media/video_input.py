"""Opening an untrusted video file and reading its frames one at a time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from media.errors import ProcessingFailed
from media.failures import failures_as
from media.limits import MAX_PIXELS
from media.video_sniff import describe_unrecognised, detect_demuxer, read_head

logger = logging.getLogger(__name__)

# The nodes run on 2-core machines; more codec threads only add contention.
CODEC_THREADS = 2
FALLBACK_RATE = Fraction(25)
_MAX_RATE = 1000


@dataclass(frozen=True)
class VideoSource:
    """An open input video and what is known about it up front."""

    container: InputContainer
    stream: VideoStream
    rate: Fraction
    frame_estimate: int | None


@contextmanager
def open_video(path: Path) -> Iterator[VideoSource]:
    """Open a video with a forced demuxer and select its main video stream."""
    head = read_head(path)
    demuxer = detect_demuxer(head)
    if demuxer is None:
        reason = describe_unrecognised(head)
        raise ProcessingFailed(f"input is not a decodable video: {reason}")
    with failures_as("input is not a decodable video"):
        container = av.open(str(path), format=demuxer, metadata_errors="ignore")
    try:
        with failures_as("input is not a decodable video"):
            stream = _main_stream(container)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = CODEC_THREADS
            rate = _frame_rate(stream)
            estimate = _estimate(container, stream, rate)
            source = VideoSource(container, stream, rate, estimate)
        yield source
    finally:
        container.close()


def _main_stream(container: InputContainer) -> VideoStream:
    # Cover art is stored as a one-frame "video" stream; it is not the video.
    cover = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not s.disposition & cover]
    if not streams:
        raise ProcessingFailed("input is not a decodable video: it has no video stream")
    stream = streams[0]
    if stream.codec_context is None:
        raise ProcessingFailed(
            "input is not a decodable video: no decoder for its video codec"
        )
    if stream.width * stream.height > MAX_PIXELS:
        raise ProcessingFailed(
            f"video frames are too large ({stream.width}x{stream.height})"
        )
    return stream


def _frame_rate(stream: VideoStream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate <= _MAX_RATE:
            # 1001 keeps NTSC rates such as 30000/1001 exact.
            return Fraction(rate).limit_denominator(1001)
    logger.debug("no usable frame rate; assuming %s fps", FALLBACK_RATE)
    return FALLBACK_RATE


def _estimate(
    container: InputContainer, stream: VideoStream, rate: Fraction
) -> int | None:
    if stream.frames:
        return stream.frames
    if stream.duration and stream.time_base:
        return round(stream.duration * stream.time_base * rate)
    if container.duration:
        return round(Fraction(container.duration, av.time_base) * rate)
    return None


def decoded_frames(source: VideoSource) -> Iterator[VideoFrame]:
    """Yield decoded frames one by one, never holding more than the decoder does."""
    with failures_as("cannot decode video"):
        yield from source.container.decode(source.stream)


def count_frames(source: VideoSource) -> int:
    """Return the exact frame count, reading packets (not decoding) if need be."""
    if source.stream.frames:
        return source.stream.frames
    with failures_as("cannot read video"):
        return sum(1 for p in source.container.demux(source.stream) if p.size)
