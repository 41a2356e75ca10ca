"""Frame-by-frame video operations: transcode, grayscale and resize."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from pathlib import Path

from av.video.frame import VideoFrame

from media.errors import ProcessingFailed
from media.geometry import checked_size, resize_size
from media.outputs import OutputInfo
from media.params import Params, integer
from media.progress import ProgressReporter
from media.targets import VideoTarget, video_target
from media.video_input import decoded_frames, open_video
from media.video_output import PIXEL_FORMAT, open_writer

logger = logging.getLogger(__name__)

FrameConverter = Callable[[VideoFrame, int, int], VideoFrame]


def _color(frame: VideoFrame, width: int, height: int) -> VideoFrame:
    return frame.reformat(width, height, PIXEL_FORMAT, interpolation="BICUBIC")


def _gray(frame: VideoFrame, width: int, height: int) -> VideoFrame:
    # Through "gray" and back: luma is kept and chroma comes back exactly
    # neutral, which players of every kind can decode (unlike 4:0:0 H.264).
    gray = frame.reformat(width, height, "gray", interpolation="BICUBIC")
    return gray.reformat(format=PIXEL_FORMAT)


_CONVERTERS: dict[str, FrameConverter] = {
    "transcode": _color,
    "grayscale": _gray,
    "resize": _color,
}


def process_video(
    operation: str,
    params: Params,
    input_path: Path,
    output_path: Path,
    reporter: ProgressReporter,
) -> OutputInfo:
    """Re-encode a video frame by frame; audio and subtitle streams are dropped."""
    target = video_target(operation, params)
    assert isinstance(target, VideoTarget), "thumbnail is handled by contact_sheet"
    convert = _CONVERTERS[operation]
    with open_video(input_path) as source:
        frames = decoded_frames(source)
        first = next(frames, None)
        if first is None:
            raise ProcessingFailed("cannot decode video: it contains no frames")
        if operation == "resize":
            size = resize_size(first.width, first.height, params, even=True)
        else:
            size = checked_size(first.width, first.height, even=True)
        bitrate = integer(params, "bitrate")
        with open_writer(output_path, target, *size, source.rate, bitrate) as writer:
            for frame in itertools.chain((first,), frames):
                writer.write(convert(frame, *size))
                reporter.update(writer.frames, source.frame_estimate)
    return OutputInfo(
        content_type=target.content_type,
        size_bytes=output_path.stat().st_size,
        width=size[0],
        height=size[1],
        frames=writer.frames,
        extension=target.extension,
    )
