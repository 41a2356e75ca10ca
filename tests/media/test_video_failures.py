"""Broken, hostile or mislabelled video inputs fail with a readable reason."""

from pathlib import Path

import pytest

from media import ProcessingFailed, process, validate_operation


def run(source: Path, out: Path, operation: str = "transcode") -> None:
    params = validate_operation("video", operation, {})
    process("video", operation, params, source, out)


def test_text_file_named_mp4_is_not_a_decodable_video(tmp_path):
    text = tmp_path / "clip.mp4"
    text.write_text("this is not a video at all\n" * 20)
    with pytest.raises(ProcessingFailed, match="not a decodable video"):
        run(text, tmp_path / "out")


def test_a_playlist_disguised_as_mp4_is_never_handed_to_ffmpeg(tmp_path):
    playlist = tmp_path / "clip.mp4"
    playlist.write_text("#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    with pytest.raises(ProcessingFailed, match="unrecognised container"):
        run(playlist, tmp_path / "out")


def test_png_sent_as_a_video_is_rejected_as_an_image(samples, tmp_path):
    with pytest.raises(ProcessingFailed, match="PNG image"):
        run(samples / "astronaut.png", tmp_path / "out")


def test_empty_video_file_fails_as_empty(tmp_path):
    empty = tmp_path / "clip.webm"
    empty.write_bytes(b"")
    with pytest.raises(ProcessingFailed, match="empty"):
        run(empty, tmp_path / "out", "thumbnail")


def test_mp4_cut_before_its_index_fails_readably_without_paths(samples, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((samples / "chelsea-pan.mp4").read_bytes()[:4000])
    with pytest.raises(ProcessingFailed, match="not a decodable video") as caught:
        run(cut, tmp_path / "out")
    assert str(tmp_path) not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_truncated_webm_yields_the_frames_that_survive(samples, tmp_path):
    cut = tmp_path / "cut.webm"
    data = (samples / "coffee-pan.webm").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    params = validate_operation("video", "transcode", {})
    info = process("video", "transcode", params, cut, tmp_path / "out")
    assert info.frames is not None and 0 < info.frames < 48


def test_a_video_stream_without_frames_fails_readably(make_clip, tmp_path):
    # The audio gives the muxer something to write; the video track stays empty.
    source = make_clip(
        "none.mkv", container="matroska", codec="libx264", frames=0, with_audio=True
    )
    with pytest.raises(ProcessingFailed, match="contains no frames"):
        run(source, tmp_path / "out")
    with pytest.raises(ProcessingFailed, match="contains no frames"):
        run(source, tmp_path / "out", "thumbnail")


def test_a_file_without_a_video_stream_fails_readably(make_clip, tmp_path):
    # MP4 drops a video track that never received a packet: audio only remains.
    source = make_clip(
        "none.mp4", container="mp4", codec="libx264", frames=0, with_audio=True
    )
    with pytest.raises(ProcessingFailed, match="no video stream"):
        run(source, tmp_path / "out")
