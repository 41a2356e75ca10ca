"""Display names of results."""

import pytest

from media import InvalidOperation, output_name, validate_operation


def test_result_name_is_stem_dash_operation_dot_extension():
    assert output_name("photo.png", "image", "grayscale", {}) == (
        "photo-grayscale.png",
        "image/png",
    )


def test_images_keep_their_format_where_pillow_writes_it():
    assert output_name("a.JPG", "image", "blur", {}) == ("a-blur.jpg", "image/jpeg")
    assert output_name("a.webp", "image", "blur", {}) == ("a-blur.webp", "image/webp")
    assert output_name("a.gif", "image", "blur", {}) == ("a-blur.png", "image/png")
    assert output_name("a.tiff", "image", "blur", {}) == ("a-blur.png", "image/png")


def test_convert_uses_the_requested_format():
    params = validate_operation("image", "convert", {"format": "jpeg"})
    assert output_name("photo.png", "image", "convert", params) == (
        "photo-convert.jpg",
        "image/jpeg",
    )


def test_declared_content_type_decides_the_format_when_given():
    name = output_name("upload", "image", "blur", {}, content_type="image/jpeg")
    assert name == ("upload-blur.jpg", "image/jpeg")


def test_video_results_follow_codec_and_operation():
    vp9 = validate_operation("video", "transcode", {"codec": "vp9"})
    assert output_name("c.mp4", "video", "transcode", vp9) == (
        "c-transcode.webm",
        "video/webm",
    )
    assert output_name("c.webm", "video", "grayscale", {}) == (
        "c-grayscale.mp4",
        "video/mp4",
    )
    assert output_name("c.mov", "video", "thumbnail", {}) == (
        "c-thumbnail.png",
        "image/png",
    )


@pytest.mark.parametrize(
    ("filename", "stem"),
    [
        ("../../etc/passwd.png", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat"),
        ("a\x00b\x1f\x7fc.png", "abc"),
        ("evil\u202egnp.exe.png", "evilgnp.exe"),
        ('say "hi"; rm.png', "say _hi__ rm"),
        ("", "file"),
        ("...png", "file"),
        ("/", "file"),
        ("\x00\x00.png", "file"),
    ],
)
def test_stems_are_sanitised_for_use_as_a_download_name(filename, stem):
    name, _ = output_name(filename, "image", "edges", {})
    assert name == f"{stem}-edges.png"


def test_long_stems_are_capped_at_120_characters():
    name, _ = output_name("x" * 300 + ".png", "image", "edges", {})
    assert name == "x" * 120 + "-edges.png"


def test_unknown_operations_never_reach_the_filename():
    with pytest.raises(InvalidOperation):
        output_name("a.png", "image", "../x", {})
