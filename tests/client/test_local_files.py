"""Download names from the server never leave the folder they are meant for."""

import pytest

from web.client.errors import UsageError
from web.client.local_files import MAX_NAME_BYTES, move_into_place, safe_name


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        ("photo-grayscale.png", "photo-grayscale.png"),
        ("../../etc/passwd", "passwd"),
        ("/abs/path/out.png", "out.png"),
        ("..\\..\\windows\\out.png", "out.png"),
        ("..", "fallback"),
        (".bashrc", "bashrc"),
        ("", "fallback"),
        (None, "fallback"),
        ("a\x00b\x1b[31m.png", "ab[31m.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("c:file?.png", "c_file_.png"),
        ("日本語.png", "日本語.png"),
    ],
)
def test_safe_name_keeps_only_a_plain_file_name(offered, expected):
    assert safe_name(offered, "fallback") == expected


def test_safe_name_shortens_long_names_but_keeps_the_suffix():
    name = safe_name("é" * 300 + ".png", "fallback")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith(".png") and name.startswith("é")


def test_a_finished_download_never_replaces_a_file_without_force(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"mine")
    partial = tmp_path / ".out.png.part"
    partial.write_bytes(b"theirs")

    with pytest.raises(UsageError, match="already exists"):
        move_into_place(partial, target, force=False)
    assert target.read_bytes() == b"mine"

    move_into_place(partial, target, force=True)
    assert target.read_bytes() == b"theirs"
    assert not partial.exists()
