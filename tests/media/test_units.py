"""Small building blocks: progress throttling, frame sampling, container sniffing."""

import pytest

from media.contact_sheet import sample_indices
from media.progress import ProgressReporter
from media.video_sniff import detect_demuxer


def test_progress_is_throttled_to_about_twenty_updates_plus_the_end():
    seen: list[float] = []
    reporter = ProgressReporter(seen.append)
    for done in range(1, 10_001):
        reporter.update(done, 10_000)
    reporter.finish()
    assert len(seen) <= 21
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_progress_with_an_underestimated_total_holds_back_one_until_the_end():
    seen: list[float] = []
    reporter = ProgressReporter(seen.append)
    for done in range(1, 200):
        reporter.update(done, 50)
    assert max(seen) < 1.0
    reporter.finish()
    assert seen[-1] == 1.0


def test_progress_without_a_callback_or_total_does_nothing():
    ProgressReporter(None).update(1, 2)
    seen: list[float] = []
    reporter = ProgressReporter(seen.append)
    reporter.update(5, None)
    assert seen == []


@pytest.mark.parametrize(
    ("frames", "tiles", "expected"),
    [
        (48, 12, [2, 6, 10, 14, 18, 22, 26, 30, 34, 38, 42, 46]),
        (3, 12, [0, 1, 2]),
        (10, 1, [5]),
        (0, 4, []),
    ],
)
def test_frames_are_sampled_evenly_and_distinctly(frames, tiles, expected):
    assert sample_indices(frames, tiles) == expected


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        (b"\x00\x00\x00\x20ftypisom" + bytes(100), "mov"),
        (b"\x00\x00\x00\x08wide" + bytes(100), "mov"),
        (b"\x1a\x45\xdf\xa3" + bytes(100), "matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"\x00\x00\x01\xba" + bytes(100), "mpeg"),
        ((b"\x47" + bytes(187)) * 3, "mpegts"),
        (b"#EXTM3U\n", None),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head, demuxer):
    assert detect_demuxer(head) == demuxer
