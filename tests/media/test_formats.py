"""Classifying uploads by content type and filename."""

import pytest

from media import SUPPORTED_TYPES, UnsupportedMedia, media_kind


def test_a_supported_declared_content_type_is_trusted_over_the_extension():
    assert media_kind("clip.png", "video/mp4") == ("video", "video/mp4")


def test_declared_content_types_are_normalised_before_lookup():
    assert media_kind("x", "Image/JPEG; charset=binary") == ("image", "image/jpeg")
    assert media_kind("x", "image/jpg") == ("image", "image/jpeg")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("photo.PNG", ("image", "image/png")),
        ("photo.jpg", ("image", "image/jpeg")),
        ("photo.JPEG", ("image", "image/jpeg")),
        ("scan.tif", ("image", "image/tiff")),
        ("clip.m4v", ("video", "video/mp4")),
        ("clip.MOV", ("video", "video/quicktime")),
        ("clip.mkv", ("video", "video/x-matroska")),
        ("clip.avi", ("video", "video/x-msvideo")),
        ("clip.mpg", ("video", "video/mpeg")),
        ("clip.webm", ("video", "video/webm")),
    ],
)
def test_missing_or_generic_content_type_falls_back_to_the_extension(
    filename, expected
):
    assert media_kind(filename, None) == expected
    assert media_kind(filename, "application/octet-stream") == expected
    assert media_kind(filename, "") == expected


def test_unsupported_media_lists_every_supported_type():
    with pytest.raises(UnsupportedMedia) as caught:
        media_kind("notes.txt", "text/plain")
    assert caught.value.supported == list(SUPPORTED_TYPES)
    message = str(caught.value)
    assert "text/plain" in message
    assert "image/png" in message
    assert "video/mp4" in message


def test_a_name_without_extension_and_no_type_is_unsupported():
    with pytest.raises(UnsupportedMedia):
        media_kind("README", None)


def test_only_the_suffix_of_a_hostile_filename_is_used():
    hostile = "../../etc/" + "a" * 300 + "\x00evil/..\\x.Mp4"
    assert media_kind(hostile, None) == ("video", "video/mp4")


def test_a_nul_after_the_extension_does_not_sneak_past_the_check():
    with pytest.raises(UnsupportedMedia):
        media_kind("photo.png\x00.sh", None)


def test_a_dot_in_a_directory_name_is_not_taken_as_the_extension():
    with pytest.raises(UnsupportedMedia):
        media_kind("dir.png/README", None)


def test_every_supported_type_maps_to_a_known_kind():
    assert set(SUPPORTED_TYPES.values()) == {"image", "video"}
