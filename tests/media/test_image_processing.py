"""Image operations on the sample photos."""

import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from media import OutputInfo, ProcessingFailed, process, validate_operation

PHOTOS = ["astronaut.png", "coffee.png"]


def run(source: Path, out: Path, operation: str, **params) -> OutputInfo:
    valid = validate_operation("image", operation, params)
    return process("image", operation, valid, source, out)


def opened(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def is_gray(image: Image.Image) -> bool:
    if image.mode in ("L", "LA"):
        return True
    red, green, blue = image.convert("RGB").split()
    return not ImageChops.difference(red, green).getbbox() and not (
        ImageChops.difference(green, blue).getbbox()
    )


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("grayscale", {}),
        ("resize", {"scale": 0.5}),
        ("thumbnail", {}),
        ("rotate", {"degrees": 45}),
        ("flip", {"direction": "vertical"}),
        ("blur", {}),
        ("sharpen", {}),
        ("edges", {}),
        ("autocontrast", {"cutoff": 1}),
        ("convert", {"format": "webp"}),
    ],
)
def test_every_image_operation_writes_a_decodable_image_matching_its_info(
    samples, tmp_path, photo, operation, params
):
    out = tmp_path / "out"
    info = run(samples / photo, out, operation, **params)
    image = opened(out)
    assert (image.width, image.height) == (info.width, info.height)
    assert info.size_bytes == out.stat().st_size > 0
    assert info.frames is None
    assert Image.MIME[image.format] == info.content_type


@pytest.mark.parametrize("photo", PHOTOS)
def test_grayscale_keeps_the_size_and_leaves_no_color(samples, tmp_path, photo):
    info = run(samples / photo, tmp_path / "out", "grayscale")
    image = opened(tmp_path / "out")
    assert image.mode == "L"
    assert is_gray(image)
    assert image.size == Image.open(samples / photo).size
    assert info.content_type == "image/png"
    assert info.extension == "png"


def test_resize_by_half_scale_halves_both_sides(samples, tmp_path):
    run(samples / "astronaut.png", tmp_path / "out", "resize", scale=0.5)
    assert opened(tmp_path / "out").size == (256, 256)


def test_resize_with_only_a_width_keeps_the_aspect_ratio(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "resize", width=300)
    assert opened(tmp_path / "out").size == (300, 200)


def test_resize_with_width_and_height_uses_both_exactly(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "resize", width=123, height=45)
    assert opened(tmp_path / "out").size == (123, 45)


def test_resize_that_would_exceed_the_side_limit_fails_readably(samples, tmp_path):
    with pytest.raises(ProcessingFailed, match="maximum is 8192"):
        run(samples / "coffee.png", tmp_path / "out", "resize", height=8000)


def test_thumbnail_fits_the_longest_side_to_the_size(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "thumbnail", size=100)
    assert opened(tmp_path / "out").size == (100, 67)


def test_thumbnail_never_enlarges(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "thumbnail", size=4000)
    assert opened(tmp_path / "out").size == (600, 400)


def test_thumbnail_of_a_jpeg_stays_a_jpeg_of_the_right_size(samples, tmp_path):
    source = tmp_path / "coffee.jpg"
    Image.open(samples / "coffee.png").save(source, "JPEG")
    info = run(source, tmp_path / "out", "thumbnail", size=64)
    assert opened(tmp_path / "out").size == (64, 43)
    assert info.content_type == "image/jpeg"


def test_rotating_by_90_swaps_the_sides_of_a_non_square_image(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "rotate", degrees=90)
    assert opened(tmp_path / "out").size == (400, 600)


def test_rotating_without_expand_keeps_the_canvas(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "rotate", degrees=30, expand=False)
    assert opened(tmp_path / "out").size == (600, 400)


def test_rotating_by_90_is_counter_clockwise_and_lossless(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "rotate", degrees=90)
    expected = Image.open(samples / "coffee.png").transpose(Image.Transpose.ROTATE_90)
    assert not ImageChops.difference(opened(tmp_path / "out"), expected).getbbox()


def test_horizontal_flip_mirrors_left_and_right(samples, tmp_path):
    run(samples / "coffee.png", tmp_path / "out", "flip")
    source = Image.open(samples / "coffee.png").convert("RGB")
    flipped = opened(tmp_path / "out")
    assert flipped.getpixel((0, 0)) == source.getpixel((599, 0))


def test_convert_to_jpeg_writes_jpeg_bytes(samples, tmp_path):
    info = run(samples / "astronaut.png", tmp_path / "out", "convert", format="jpeg")
    assert (tmp_path / "out").read_bytes()[:3] == b"\xff\xd8\xff"
    assert (info.content_type, info.extension) == ("image/jpeg", "jpg")


def test_convert_to_jpeg_flattens_transparency_onto_white(tmp_path):
    source = tmp_path / "clear.png"
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(source)
    run(source, tmp_path / "out", "convert", format="jpeg")
    image = opened(tmp_path / "out")
    assert image.mode == "RGB"
    assert min(image.getpixel((4, 4))) > 245


def test_jpeg_input_stays_jpeg_for_ordinary_operations(samples, tmp_path):
    source = tmp_path / "coffee.jpg"
    Image.open(samples / "coffee.png").save(source, "JPEG")
    info = run(source, tmp_path / "out", "grayscale")
    assert opened(tmp_path / "out").format == "JPEG"
    assert info.extension == "jpg"


def test_gif_input_becomes_png(samples, tmp_path):
    source = tmp_path / "coffee.gif"
    Image.open(samples / "coffee.png").save(source, "GIF")
    info = run(source, tmp_path / "out", "edges")
    assert opened(tmp_path / "out").format == "PNG"
    assert info.content_type == "image/png"


def test_exif_orientation_is_applied_before_the_operation(samples, tmp_path):
    source = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; display rotated 90 degrees clockwise
    Image.open(samples / "coffee.png").save(source, "JPEG", exif=exif.tobytes())
    run(source, tmp_path / "out", "grayscale")
    assert opened(tmp_path / "out").size == (400, 600)


def test_transparency_survives_filters(tmp_path):
    source = tmp_path / "half.png"
    image = Image.new("RGBA", (16, 16), (10, 200, 30, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    image.save(source)
    run(source, tmp_path / "out", "autocontrast")
    result = opened(tmp_path / "out")
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0))[3] == 0


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    source = tmp_path / "deep.png"
    Image.new("I;16", (4, 4), 40000).save(source)
    run(source, tmp_path / "out", "grayscale")
    assert opened(tmp_path / "out").getpixel((0, 0)) == 40000 // 256


def test_process_fills_in_defaults_when_given_raw_params(samples, tmp_path):
    info = process("image", "thumbnail", {}, samples / "coffee.png", tmp_path / "o")
    assert (info.width, info.height) == (256, 171)


def test_tiny_images_go_through_quickly(tmp_path):
    source = tmp_path / "tiny.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(source)
    params = validate_operation("image", "grayscale", {})
    started = time.perf_counter()
    for _ in range(200):
        process("image", "grayscale", params, source, tmp_path / "out")
    # Generous bound (5 ms each) so a busy CI machine does not flake.
    assert time.perf_counter() - started < 1.0
