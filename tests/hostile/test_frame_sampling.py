"""A contact sheet of a long video decodes a bounded number of frames.

The clips are ramps (frame i is a flat gray of brightness i % 256), so each
sampled frame's brightness says which frame it really is.
"""

from pathlib import Path

import pytest

from media.contact_sheet import sample_indices
from media.frame_sampling import FrameSampler
from media.video_input import count_frames, open_video
from tests.hostile import corpus

TILES = 12


def sample(path: Path) -> tuple[list[int], list[int], FrameSampler]:
    """(wanted indices, brightness of each frame taken, the sampler)."""
    with open_video(path) as source:
        frame_count = count_frames(source)
    wanted = sample_indices(frame_count, TILES)
    with open_video(path) as source:
        sampler = FrameSampler(source, frame_count)
        levels = [
            round(float(frame.to_ndarray(format="gray").mean()))
            for frame in sampler.frames_at(wanted)
        ]
    return wanted, levels, sampler


def assert_exact(wanted: list[int], levels: list[int]) -> None:
    # Lossy coding of a flat gray may be off by a level or two.
    assert len(levels) == len(wanted)
    for index, level in zip(wanted, levels, strict=True):
        assert abs(level - index % 256) <= 3, (index, level)


def test_ten_thousand_frames_cost_at_most_one_keyframe_interval_per_tile(tmp_path):
    path = tmp_path / "long.mp4"
    path.write_bytes(corpus.long_video())

    wanted, levels, sampler = sample(path)

    assert_exact(wanted, levels)
    # Straight through would decode up to the last sample: about 9,600 frames.
    assert sampler.decoded <= TILES * corpus.LONG_VIDEO_KEYFRAME_INTERVAL
    assert sampler.seeks == TILES


def test_a_video_with_one_keyframe_is_decoded_once_not_once_per_tile(tmp_path):
    # Every seek would land on frame 0: the sampler notices and decodes on.
    path = tmp_path / "one-keyframe.mp4"
    path.write_bytes(corpus.ramp_video(2_000, keyframe_interval=100_000))

    wanted, levels, sampler = sample(path)

    assert_exact(wanted, levels)
    assert sampler.decoded <= 2_000 + 10
    assert sampler.seeks <= 2


@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [("long.webm", "webm", "libvpx-vp9"), ("long.mkv", "matroska", "libx264")],
)
def test_indexed_containers_are_sampled_by_seeking(tmp_path, name, container, codec):
    path = tmp_path / name
    path.write_bytes(corpus.ramp_video(2_000, container=container, codec=codec))

    wanted, levels, sampler = sample(path)

    assert_exact(wanted, levels)
    assert sampler.seeks > 0
    assert sampler.decoded < wanted[-1]


def test_transport_streams_are_decoded_straight_through(tmp_path):
    # MPEG-TS seeks by bisecting bytes and lands past its target: not used.
    path = tmp_path / "long.ts"
    path.write_bytes(corpus.ramp_video(2_000, container="mpegts"))

    wanted, levels, sampler = sample(path)

    assert_exact(wanted, levels)
    assert sampler.seeks == 0
    assert sampler.decoded == wanted[-1] + 1


def test_short_clips_are_decoded_straight_through(tmp_path):
    path = tmp_path / "short.mp4"
    path.write_bytes(corpus.ramp_video(200))

    wanted, levels, sampler = sample(path)

    assert_exact(wanted, levels)
    assert sampler.seeks == 0
