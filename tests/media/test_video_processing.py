"""Video operations on the sample clips."""

from pathlib import Path

import av
import pytest
from PIL import Image

from media import OutputInfo, process, validate_operation

from .video_checks import decode

CLIPS = ["chelsea-pan.mp4", "coffee-pan.webm"]


def run(source: Path, out: Path, operation: str, progress=None, **params) -> OutputInfo:
    valid = validate_operation("video", operation, params)
    return process("video", operation, valid, source, out, progress)


@pytest.mark.parametrize("clip", CLIPS)
def test_transcode_to_h264_keeps_every_frame_and_the_rate(samples, tmp_path, clip):
    info = run(samples / clip, tmp_path / "out", "transcode")
    decoded = decode(tmp_path / "out")
    assert decoded.codec == "h264"
    assert "mp4" in decoded.container
    assert decoded.frames == info.frames == 48
    assert decoded.rate == 24
    assert (decoded.width, decoded.height) == (info.width, info.height) == (320, 240)
    assert (info.content_type, info.extension) == ("video/mp4", "mp4")
    assert info.size_bytes == (tmp_path / "out").stat().st_size


def test_transcode_to_vp9_writes_webm_with_every_frame(samples, tmp_path):
    info = run(samples / "chelsea-pan.mp4", tmp_path / "out", "transcode", codec="vp9")
    decoded = decode(tmp_path / "out")
    assert decoded.codec == "vp9"
    assert "webm" in decoded.container
    assert decoded.frames == 48
    assert (info.content_type, info.extension) == ("video/webm", "webm")


@pytest.mark.parametrize("clip", CLIPS)
def test_grayscale_video_has_equal_channels_and_every_frame(samples, tmp_path, clip):
    info = run(samples / clip, tmp_path / "out", "grayscale")
    decoded = decode(tmp_path / "out")
    assert decoded.frames == info.frames == 48
    assert decoded.codec == "h264"
    assert decoded.max_channel_spread <= 3


def test_resize_video_gets_the_requested_even_size(samples, tmp_path):
    info = run(samples / "chelsea-pan.mp4", tmp_path / "out", "resize", width=160)
    decoded = decode(tmp_path / "out")
    assert (decoded.width, decoded.height) == (info.width, info.height) == (160, 120)
    assert decoded.frames == 48


def test_resize_rounds_odd_sizes_down_to_even(samples, tmp_path):
    run(samples / "coffee-pan.webm", tmp_path / "out", "resize", width=101, height=75)
    decoded = decode(tmp_path / "out")
    assert (decoded.width, decoded.height) == (100, 74)


def test_odd_sized_input_is_transcoded_to_even_size(make_clip, tmp_path):
    source = make_clip("odd.webm", width=33, height=17)
    info = run(source, tmp_path / "out", "transcode")
    decoded = decode(tmp_path / "out")
    assert (decoded.width, decoded.height) == (32, 16)
    assert decoded.frames == info.frames == 10


@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [
        ("clip.avi", "avi", "mpeg4"),
        ("clip.mkv", "matroska", "libx264"),
        ("clip.mpg", "mpeg", "mpeg2video"),
    ],
)
def test_other_containers_are_accepted(make_clip, tmp_path, name, container, codec):
    source = make_clip(name, container=container, codec=codec)
    info = run(source, tmp_path / "out", "grayscale")
    assert decode(tmp_path / "out").frames == info.frames == 10


def test_audio_is_dropped(make_clip, tmp_path):
    source = make_clip("talk.mp4", container="mp4", codec="libx264", with_audio=True)
    run(source, tmp_path / "out", "transcode")
    with av.open(str(tmp_path / "out")) as container:
        assert [s.type for s in container.streams] == ["video"]


@pytest.mark.parametrize("clip", CLIPS)
def test_thumbnail_is_a_png_contact_sheet_of_the_expected_size(samples, tmp_path, clip):
    info = run(samples / clip, tmp_path / "out", "thumbnail")
    sheet = Image.open(tmp_path / "out")
    # 4 columns x 3 rows of 160x120 tiles for a 4:3 clip.
    assert sheet.format == "PNG"
    assert sheet.size == (info.width, info.height) == (640, 360)
    assert (info.content_type, info.extension) == ("image/png", "png")


def test_thumbnail_tiles_come_from_across_the_whole_clip(make_clip, tmp_path):
    # Frame i of the synthetic clip has brightness 20 * i.
    source = make_clip("ramp.webm", frames=10)
    run(source, tmp_path / "out", "thumbnail", columns=2, rows=1, tile_width=32)
    sheet = Image.open(tmp_path / "out").convert("L")
    first, second = sheet.getpixel((16, 12)), sheet.getpixel((48, 12))
    assert first < 80 < 110 < second


def test_thumbnail_of_a_short_clip_leaves_spare_tiles_empty(make_clip, tmp_path):
    source = make_clip("short.webm", frames=2)
    info = run(source, tmp_path / "out", "thumbnail", columns=2, rows=2, tile_width=32)
    assert (info.width, info.height) == (64, 48)


@pytest.mark.parametrize("operation", ["transcode", "thumbnail"])
def test_progress_increases_and_ends_at_one(samples, tmp_path, operation):
    seen: list[float] = []
    run(samples / "coffee-pan.webm", tmp_path / "out", operation, seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(set(seen))
    assert all(0.0 <= value <= 1.0 for value in seen)
    assert 5 <= len(seen) <= 21
