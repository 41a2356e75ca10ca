"""Broken, hostile or mislabelled image inputs fail with a readable reason."""

import struct
import zlib
from pathlib import Path

import pytest

from media import MediaError, ProcessingFailed, process, validate_operation


def run(kind: str, operation: str, source: Path, out: Path) -> None:
    process(kind, operation, validate_operation(kind, operation, {}), source, out)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """Write a PNG that claims a size but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )
    return path


def test_truncated_jpeg_fails_saying_it_is_truncated(truncated_jpeg, tmp_path):
    with pytest.raises(ProcessingFailed, match="truncated") as caught:
        run("image", "grayscale", truncated_jpeg, tmp_path / "out")
    assert str(caught.value).startswith("cannot decode image:")


def test_a_failed_job_leaves_no_partial_output(truncated_jpeg, tmp_path):
    out = tmp_path / "out"
    out.write_bytes(b"stale")
    with pytest.raises(ProcessingFailed):
        run("image", "grayscale", truncated_jpeg, out)
    assert not out.exists()


def test_empty_file_fails_as_empty(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ProcessingFailed, match="empty"):
        run("image", "grayscale", empty, tmp_path / "out")


def test_missing_input_fails_without_leaking_the_path(tmp_path):
    with pytest.raises(ProcessingFailed) as caught:
        run("image", "grayscale", tmp_path / "nowhere.png", tmp_path / "out")
    assert str(tmp_path) not in str(caught.value)


def test_a_video_sent_as_an_image_is_not_decodable(samples, tmp_path):
    with pytest.raises(ProcessingFailed, match="not a decodable image") as caught:
        run("image", "blur", samples / "chelsea-pan.mp4", tmp_path / "out")
    assert str(samples) not in str(caught.value)


def test_text_is_not_a_decodable_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("just some words")
    with pytest.raises(ProcessingFailed, match="not a decodable image"):
        run("image", "grayscale", text, tmp_path / "out")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = png_header_only(tmp_path / "bomb.png", 30_000, 30_000)
    with pytest.raises(ProcessingFailed, match="too large"):
        run("image", "grayscale", bomb, tmp_path / "out")


def test_garbage_after_a_valid_header_is_reported_not_raised_raw(tmp_path):
    broken = png_header_only(tmp_path / "broken.png", 64, 64)
    with pytest.raises(ProcessingFailed):
        run("image", "grayscale", broken, tmp_path / "out")


def test_exceptions_from_the_progress_callback_reach_the_caller(samples, tmp_path):
    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Cancelled

    params = validate_operation("image", "blur", {})
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        process("image", "blur", params, samples / "coffee.png", out, cancel)
    assert not out.exists()


def test_unknown_operation_is_refused_by_process(samples, tmp_path):
    with pytest.raises(MediaError):
        process("image", "melt", {}, samples / "coffee.png", tmp_path / "out")
