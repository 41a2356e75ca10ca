"""Decoding only the frames a contact sheet needs, not the whole video.

Short clips are decoded straight through and the exact frames are taken. In a
long MP4/MOV, Matroska/WebM or AVI file, jumping to the keyframe before each
sample and decoding forward to it costs at most one keyframe interval per
tile, however long the video is: 10,000 frames with x264's default interval
of 250 take at most 3,000 decoded frames for 12 tiles (about 1,000 in
practice) instead of about 9,600. Each tile is still the frame at its time.

Seeking trusts the file's index; a hostile or odd file may make it useless
(every seek lands on the same early keyframe) or impossible. Both are noticed
and the sampler carries on decoding straight through, so the work stays below
twice the frame count whatever the file claims.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
from av.video.frame import VideoFrame

from media.video_input import VideoSource, decoded_frames

logger = logging.getLogger(__name__)

SEEK_MIN_GAP_FRAMES = 64
"""Fewer frames than this between samples: decoding through beats seeking."""

# Demuxers that seek through an index to the keyframe before a time. MPEG
# program and transport streams seek by bisecting bytes and land past the
# target, so there the sampler decodes straight through.
_INDEXED_DEMUXERS = frozenset({"mov", "matroska", "avi"})

Progress = Callable[[int, int], None]
"""Told (done, total) as sampling advances."""


class FrameSampler:
    """Yields the frames at chosen indices of an open video, counting its work."""

    def __init__(self, source: VideoSource, frame_count: int) -> None:
        self._source = source
        self._frame_count = frame_count
        self.decoded = 0
        """Frames decoded so far: the measure of the work done."""
        self.seeks = 0

    def frames_at(
        self, indices: list[int], progress: Progress | None = None
    ) -> Iterator[VideoFrame]:
        """Yield one frame per index, in order; fewer if the video ends early."""
        if not indices:
            return
        gap = self._frame_count / len(indices)
        if gap >= SEEK_MIN_GAP_FRAMES and self._can_seek():
            yield from self._by_seeking(indices, progress)
        else:
            yield from self._straight_through(indices, progress)

    def _can_seek(self) -> bool:
        indexed = self._source.container.format.name in _INDEXED_DEMUXERS
        return indexed and bool(self._source.stream.time_base)

    def _straight_through(
        self, indices: list[int], progress: Progress | None
    ) -> Iterator[VideoFrame]:
        placed = 0
        for index, frame in enumerate(decoded_frames(self._source)):
            self.decoded += 1
            if index == indices[placed]:
                yield frame
                placed += 1
                if placed == len(indices):
                    return
            if progress is not None:
                progress(index + 1, indices[-1] + 1)

    def _by_seeking(
        self, indices: list[int], progress: Progress | None
    ) -> Iterator[VideoFrame]:
        seeking = True
        frames: Iterator[VideoFrame] | None = None
        position: int | None = None  # pts of the last frame decoded
        taken: int | None = None  # pts of the last frame yielded
        for placed, index in enumerate(indices):
            target = self._pts_of(index)
            sought_from: int | None = None  # the position a seek jumped from
            if seeking and (position is None or target > position):
                if self._seek(target):
                    frames = decoded_frames(self._source)
                    sought_from = position
                else:
                    seeking = False
            if frames is None:
                frames = decoded_frames(self._source)

            chosen: VideoFrame | None = None
            last: VideoFrame | None = None
            for frame in frames:
                self.decoded += 1
                pts = frame.pts
                if sought_from is not None and pts is not None:
                    if pts <= sought_from:
                        # The keyframe before this target is one we passed:
                        # keyframes are too sparse for seeking to save work.
                        logger.debug("keyframes too sparse; decoding straight on")
                        seeking = False
                    sought_from = None
                if pts is None or pts >= target:
                    chosen = frame
                    break
                position = pts
                last = frame
            if chosen is None:
                # The video ended before the target (its header over-counted):
                # the last frame is the nearest there is, if not already used.
                if last is not None and last.pts is not None:
                    if taken is None or last.pts > taken:
                        yield last
                return
            if chosen.pts is not None:
                position = taken = chosen.pts
            yield chosen
            if progress is not None:
                progress(placed + 1, len(indices))

    def _pts_of(self, index: int) -> int:
        stream = self._source.stream
        seconds = Fraction(index) / self._source.rate
        return (stream.start_time or 0) + int(seconds / stream.time_base)

    def _seek(self, target: int) -> bool:
        try:
            self._source.container.seek(
                target, stream=self._source.stream, backward=True
            )
        except av.FFmpegError as error:
            logger.debug("seek failed (%s); decoding straight through", error)
            return False
        self.seeks += 1
        return True
