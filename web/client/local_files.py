"""Where a download lands: a safe local name, a partial file, no silent overwrite."""

import contextlib
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from web.client.errors import UsageError

MAX_NAME_BYTES = 255
# Characters some file systems refuse, and both path separators.
_UNSAFE = set('/\\:*?"<>|')


def safe_name(raw: str | None, fallback: str) -> str:
    """A file name from the server fit for the current folder: no folders, no dots."""
    # The server's name is only a suggestion: whatever folders it names go,
    # and so do control and format characters and leading dots ('..', hidden).
    base = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    visible = "".join(
        "_" if ch in _UNSAFE else ch
        for ch in base
        if unicodedata.category(ch) not in ("Cc", "Cf")
    )
    name = visible.strip().lstrip(".").strip()
    name = _fit_bytes(name, MAX_NAME_BYTES)
    return name or fallback


def _fit_bytes(name: str, limit: int) -> str:
    """Shorten the stem so the UTF-8 name fits in `limit` bytes, keeping the suffix."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix.encode()) > 16:
        stem, dot, suffix = name, "", ""
    room = limit - len((dot + suffix).encode())
    cut = stem.encode()[:room].decode("utf-8", errors="ignore")
    return cut + dot + suffix


def refuse_existing(path: Path, force: bool) -> None:
    """A UsageError when `path` exists and may not be replaced."""
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; name a file with -o")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} is not a folder")


def open_partial(target: Path) -> tuple[BinaryIO, Path]:
    """A new hidden file next to `target` to download into, and its path."""
    handle = tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".part", delete=False
    )
    # A temporary file is private (0600); the download gets the usual mode.
    os.chmod(handle.name, 0o666 & ~_umask())
    return handle, Path(handle.name)


def _umask() -> int:
    # The only way to read the umask is to set it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def move_into_place(partial: Path, target: Path, force: bool) -> None:
    """Give the finished download its name; never replace a file unless `force`."""
    if force:
        os.replace(partial, target)
        return
    try:
        # A hard link fails if the name was taken meanwhile, unlike a rename.
        os.link(partial, target)
    except FileExistsError:
        raise UsageError(
            f"{target} already exists; pass --force to overwrite it"
        ) from None
    except OSError:
        # No hard links on this file system: check, then rename.
        refuse_existing(target, force=False)
        os.replace(partial, target)
        return
    discard(partial)


def discard(path: Path) -> None:
    """Remove a partial download, if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
