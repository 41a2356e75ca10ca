"""Where operations run: tiny images on the event loop, everything else on threads."""

import io

from PIL import Image

from node.compute import INLINE_MAX_PIXELS, Compute, fits_inline
from node.emulation import Emulation, EmulationSettings


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_small_image_is_processed_inline():
    assert fits_inline("image", png(64, 64))


def test_an_image_over_the_pixel_limit_goes_to_a_thread():
    side = int(INLINE_MAX_PIXELS**0.5) + 1
    assert not fits_inline("image", png(side, side))


def test_a_tiny_file_declaring_a_huge_image_goes_to_a_thread():
    buffer = io.BytesIO()
    Image.new("L", (4000, 4000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 64 * 1024

    assert not fits_inline("image", buffer.getvalue())


def test_garbage_videos_and_streamed_inputs_go_to_a_thread():
    assert not fits_inline("image", b"\x89PNG but not really")
    assert not fits_inline("video", png(64, 64))
    assert not fits_inline("image", None)


async def test_inline_and_threaded_runs_write_the_same_output(tmp_path):
    compute = Compute(1, Emulation(EmulationSettings()))
    source = tmp_path / "in.png"
    source.write_bytes(png(64, 64))
    outputs = {}
    try:
        for inline in (True, False):
            target = tmp_path / f"out-{inline}.png"
            info = await compute.run(
                "image", "grayscale", {}, source, target, lambda _: None, inline
            )
            outputs[inline] = target.read_bytes()
            assert info.size_bytes == len(outputs[inline])
    finally:
        compute.close()

    assert outputs[True] == outputs[False]
    assert Image.open(io.BytesIO(outputs[True])).mode == "L"
