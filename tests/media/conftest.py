"""Fixtures for the media tests: the sample files and small generated clips."""

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The directory of shared sample photos and clips."""
    assert SAMPLES.is_dir(), f"sample media not found at {SAMPLES}"
    return SAMPLES


@pytest.fixture
def truncated_jpeg(samples: Path, tmp_path: Path) -> Path:
    """coffee.png saved as JPEG and cut in half."""
    whole = tmp_path / "whole.jpg"
    Image.open(samples / "coffee.png").convert("RGB").save(whole, "JPEG")
    data = whole.read_bytes()
    half = tmp_path / "half.jpg"
    half.write_bytes(data[: len(data) // 2])
    return half


ClipMaker = Callable[..., Path]


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipMaker:
    """Return a function that writes a short synthetic clip and returns its path."""

    def make(
        name: str,
        *,
        container: str = "webm",
        codec: str = "libvpx-vp9",
        width: int = 64,
        height: int = 48,
        frames: int = 10,
        with_audio: bool = False,
    ) -> Path:
        path = tmp_path / name
        with av.open(str(path), "w", format=container) as output:
            video = output.add_stream(codec, rate=10)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            audio = output.add_stream("aac", rate=44100) if with_audio else None
            for index in range(frames):
                pixels = np.full((height, width, 3), index * 20, np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                output.mux(video.encode(frame))
            output.mux(video.encode(None))
            if audio is not None:
                silence = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
                )
                silence.sample_rate, silence.pts = 44100, 0
                output.mux(audio.encode(silence))
                output.mux(audio.encode(None))
        return path

    return make
