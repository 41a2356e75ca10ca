"""Hostile inputs, made on the fly: broken, mislabelled, oversized and bomb files.

Every maker is deterministic (fixed seeds, fixed cut points), so a test can
assert one exact outcome for each file.
"""

import functools
import io
import random
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"

BOMB_SIDE = 50_000
"""Width and height of the PNG bomb: 2.5 gigapixels, 7.5 GB as RGB."""
LONG_VIDEO_FRAMES = 10_000
LONG_VIDEO_KEYFRAME_INTERVAL = 250
"""x264's default; a thumbnail that seeks decodes at most this many per tile."""


def sample(name: str) -> bytes:
    """The bytes of one of the shared sample files."""
    return (MEDIA / name).read_bytes()


def sample_jpeg() -> bytes:
    """The shared chelsea.png re-encoded as a JPEG (the samples hold none)."""
    buffer = io.BytesIO()
    Image.open(MEDIA / "chelsea.png").convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def truncated(data: bytes, keep: float) -> bytes:
    """The first `keep` share of a file, as an interrupted upload leaves it."""
    return data[: int(len(data) * keep)]


def corrupted(data: bytes, at: float, length: int, seed: int = 0) -> bytes:
    """A copy with `length` random bytes written over it from `at` (a share)."""
    start = int(len(data) * at)
    noise = random.Random(seed).randbytes(length)
    return data[:start] + noise + data[start + length :]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body))
    )


def png_bomb(width: int = BOMB_SIDE, height: int = BOMB_SIDE) -> bytes:
    """A valid PNG header declaring width x height RGB pixels, with a tiny body.

    The IDAT holds a few rows of zeros, compressed: a decoder that trusts the
    header allocates the whole image before it notices the data ends.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(64 * 1024), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def text_file() -> bytes:
    """Plain text, the kind of file someone renames to .png."""
    return b"Dear diary, today I renamed a text file to photo.png.\n" * 40


def ramp_video(
    frames: int,
    width: int = 64,
    height: int = 48,
    container: str = "mp4",
    codec: str = "libx264",
    keyframe_interval: int = LONG_VIDEO_KEYFRAME_INTERVAL,
) -> bytes:
    """A clip at 25 fps whose frame i is a flat gray of brightness i % 256."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {"g": str(keyframe_interval)}
        if codec == "libx264":
            options["preset"] = "ultrafast"
        stream.options = options
        pixels = np.zeros((height, width, 3), np.uint8)
        for index in range(frames):
            pixels[:] = index % 256
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


@functools.cache
def long_video() -> bytes:
    """10,000 frames of 160x120 H.264 in MP4 (400 s at 25 fps; about 1.2 MB).

    Made once per test session: encoding takes about 3 s on 2 cores.
    """
    return ramp_video(LONG_VIDEO_FRAMES, 160, 120)


def audio_only_mp4(seconds: float = 1.0) -> bytes:
    """An MP4 holding one AAC audio track and no video at all."""
    rate = 44_100
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=rate)
        samples = 1024
        for index in range(int(seconds * rate / samples)):
            silence = av.AudioFrame.from_ndarray(
                np.zeros((1, samples), np.float32), format="fltp", layout="mono"
            )
            silence.sample_rate = rate
            silence.pts = index * samples
            silence.time_base = Fraction(1, rate)
            output.mux(stream.encode(silence))
        output.mux(stream.encode(None))
    return buffer.getvalue()


def multipart_body(
    boundary: str, file_disposition: bytes, file_data: bytes, fields: dict[str, str]
) -> bytes:
    """A hand-written multipart body: plain fields, then one file part.

    `file_disposition` is sent as it is, so it may hold what an HTTP client
    library would refuse to write (an RFC 5987 name with control characters).
    """
    body = b""
    for name, value in fields.items():
        body += (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n"
        ).encode()
    body += f"--{boundary}\r\n".encode()
    body += b"Content-Disposition: " + file_disposition + b"\r\n\r\n"
    return body + file_data + f"\r\n--{boundary}--\r\n".encode()


def multipart_with_long_part_header(
    boundary: str, header_bytes: int, file_data: bytes
) -> bytes:
    """A multipart body whose file part carries one header line this long."""
    filler = "x" * header_bytes
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="operation"\r\n\r\n'
            "grayscale\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n"
            f"X-Filler: {filler}\r\n\r\n"
        ).encode()
        + file_data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def multipart_with_many_part_headers(
    boundary: str, headers: int, file_data: bytes
) -> bytes:
    """A multipart body whose file part carries this many short header lines."""
    lines = "".join(f"X-Filler-{index}: x\r\n" for index in range(headers))
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="operation"\r\n\r\n'
            "grayscale\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n"
            f"{lines}\r\n"
        ).encode()
        + file_data
        + f"\r\n--{boundary}--\r\n".encode()
    )
