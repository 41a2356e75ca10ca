"""Untrusted filenames are stored under task ids and shown, never used as paths."""

from email.message import Message
from urllib.parse import unquote

from tests.web.helpers import raw_multipart
from web.filenames import content_disposition


async def post_raw(client, disposition: bytes, content: bytes) -> dict:
    body, headers = raw_multipart(
        (disposition, content), (b'form-data; name="operation"', b"grayscale")
    )
    response = await client.post("/api/v1/tasks", data=body, headers=headers)
    assert response.status == 201, await response.text()
    [task] = (await response.json())["tasks"]
    return task


async def download_disposition(client, task_id: str, content: bytes) -> str:
    response = await client.get(f"/files/{task_id}")
    assert response.status == 200
    assert await response.read() == content
    return response.headers["Content-Disposition"]


def check_sane(header: str) -> None:
    assert "\r" not in header and "\n" not in header and "\0" not in header
    assert header.isascii()
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert "/" not in fallback and "\\" not in fallback


async def test_a_path_like_filename_is_kept_as_text_and_downloads(client, media_dir):
    content = (media_dir / "chelsea.png").read_bytes()

    task = await post_raw(
        client, b'form-data; name="files"; filename="../../etc/passwd.png"', content
    )

    assert task["filename"] == "../../etc/passwd.png"
    header = await download_disposition(client, task["id"], content)
    check_sane(header)
    assert 'filename=".._.._etc_passwd.png"' in header


async def test_control_characters_are_stripped_from_a_filename(client, media_dir):
    content = (media_dir / "chelsea.png").read_bytes()
    encoded = b"form-data; name=\"files\"; filename*=UTF-8''a%00b%0D%0Ac%C3%BC.png"

    task = await post_raw(client, encoded, content)

    assert task["filename"] == "abc\u00fc.png"
    header = await download_disposition(client, task["id"], content)
    check_sane(header)
    assert "filename*=UTF-8''abc%C3%BC.png" in header


async def test_a_300_character_filename_is_cut_to_255(client, media_dir):
    content = (media_dir / "chelsea.png").read_bytes()
    name = "x" * 296 + ".png"

    task = await post_raw(
        client, b'form-data; name="files"; filename="' + name.encode() + b'"', content
    )

    assert task["filename"] == name[:255]
    check_sane(await download_disposition(client, task["id"], content))


async def test_quotes_in_a_filename_cannot_break_the_header(client, media_dir):
    content = (media_dir / "chelsea.png").read_bytes()

    encoded = b"form-data; name=\"files\"; filename*=UTF-8''a%22%3B%20x%3D%22y.png"

    task = await post_raw(client, encoded, content)

    assert task["filename"] == 'a"; x="y.png'
    header = await download_disposition(client, task["id"], content)
    check_sane(header)
    message = Message()
    message["Content-Disposition"] = header
    assert message.get_filename() == "a__ x=_y.png"


async def test_a_part_without_a_name_is_a_400(client):
    body, headers = raw_multipart((b"form-data", b"hello"))

    response = await client.post("/api/v1/tasks", data=body, headers=headers)

    assert response.status == 400
    assert "name" in (await response.json())["error"]


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name():
    header = content_disposition("Ünïcode café 写真.png")

    assert header.startswith('attachment; filename="Unicode cafe .png"')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "Ünïcode café 写真.png"


def test_content_disposition_of_a_name_with_nothing_printable_falls_back():
    assert content_disposition("\r\n\0") == (
        "attachment; filename=\"download\"; filename*=UTF-8''download"
    )
