"""The HTTP calls the client makes, with aiohttp, and their errors as ClientErrors."""

import asyncio
import json
import logging
import mimetypes
import os
import socket
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import aiohttp
from aiohttp import hdrs
from yarl import URL

from web.client.errors import ApiFailure, Unreachable, UsageError

logger = logging.getLogger(__name__)

UPLOAD_CHUNK_BYTES = 256 * 1024
EVENT_LINE_BYTES = 1024 * 1024
"""Longest line of the event stream we accept (one task record as JSON)."""

JSON_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
# Transfers may take as long as they need while bytes keep moving.
TRANSFER_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
# The server sends a keep-alive comment every 15 s; four missed means it is gone.
EVENTS_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)

FILE_FIELD = "files"
_QUOTED_UNSAFE = frozenset('"\\;')

EVENTS_PATH = "/api/v1/events"
EVENT_STREAM_TYPE = "text/event-stream"


def task_path(task_id: str, below: str = "") -> str:
    """The API path of one task (or of `below` it), the id escaped as one segment."""
    path = f"/api/v1/tasks/{quote(task_id, safe='')}"
    return f"{path}/{below}" if below else path


def checked_base_url(raw: str) -> str:
    """The server's base URL without a trailing slash, or a UsageError."""
    url = URL(raw.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(f"--url must be an http:// or https:// URL, not {raw!r}")
    return str(url).rstrip("/")


class ApiClient:
    """One HTTP session with the web service, authenticated when given a token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = checked_base_url(base_url)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "ApiClient":
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (only inside `async with`)."""
        if self._session is None:
            raise RuntimeError("ApiClient used outside 'async with'")
        return self._session

    def url(self, path: str) -> str:
        """The absolute URL of an API path."""
        return f"{self.base_url}{path}"

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        *,
        client_timeout: aiohttp.ClientTimeout = JSON_TIMEOUT,
        **kwargs: Any,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A response with a success status; an error status raises ApiFailure."""
        async with (
            self._guarded(method, path),
            self.session.request(
                method, self.url(path), timeout=client_timeout, **kwargs
            ) as response,
        ):
            if response.status >= 400:
                raise await failure(response)
            yield response

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON body; None-valued params are left out."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self.request("GET", path, params=query) as response:
            return await response.json()

    async def upload(
        self,
        path: Path,
        operation: str,
        params: dict[str, str],
        schedule: bool,
        sent: Callable[[int], None],
    ) -> list[dict[str, Any]]:
        """Stream one file into a new task; `sent` hears of every chunk written."""
        body = aiohttp.MultipartWriter("form-data")
        # The fields go first so the server can refuse a bad operation before
        # reading the file.
        fields = {"operation": operation, "schedule": "true" if schedule else "false"}
        if params:
            fields["params"] = json.dumps(params)
        for name, value in fields.items():
            body.append(value).set_content_disposition("form-data", name=name)

        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as handle:
            part = body.append(
                _file_chunks(handle, sent), {hdrs.CONTENT_TYPE: content_type}
            )
            part.headers[hdrs.CONTENT_DISPOSITION] = file_disposition(path.name)
            async with self.request(
                "POST", "/api/v1/tasks", data=body, client_timeout=TRANSFER_TIMEOUT
            ) as response:
                answer = await response.json()
        return answer["tasks"]

    @asynccontextmanager
    async def event_stream(self) -> AsyncIterator[aiohttp.ClientResponse | None]:
        """The server-sent events stream, or None when this server has none."""
        headers = {"Accept": EVENT_STREAM_TYPE}
        async with (
            self._guarded("GET", EVENTS_PATH),
            self.session.get(
                self.url(EVENTS_PATH),
                headers=headers,
                timeout=EVENTS_TIMEOUT,
                read_bufsize=EVENT_LINE_BYTES,
            ) as response,
        ):
            if response.status in (404, 405) or (
                response.status < 400 and response.content_type != EVENT_STREAM_TYPE
            ):
                logger.debug("no event stream here (%d)", response.status)
                yield None
                return
            if response.status >= 400:
                raise await failure(response)
            yield response

    @asynccontextmanager
    async def _guarded(self, method: str, path: str) -> AsyncIterator[None]:
        """Turn aiohttp's connection errors into one-line Unreachable errors."""
        try:
            yield
        except aiohttp.ClientConnectorError as error:
            raise Unreachable(
                f"cannot connect to {self.base_url} ({_reason(error.os_error)}); "
                "is the web service running? Set --url or OFFLOAD_URL"
            ) from None
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as error:
            raise Unreachable(
                f"the connection to {self.base_url} broke off during {method} "
                f"{path}: {error}"
            ) from None
        except aiohttp.ClientOSError as error:
            raise Unreachable(
                f"the connection to {self.base_url} failed during {method} {path}: "
                f"{error.strerror or error}"
            ) from None
        except aiohttp.InvalidURL as error:
            raise UsageError(f"not a usable URL: {error}") from None
        except TimeoutError:
            raise Unreachable(
                f"{self.base_url} did not answer {method} {path} in time"
            ) from None


def file_disposition(filename: str) -> str:
    """The file part's Content-Disposition, carrying any file name intact."""
    # Control characters would break the header; the server drops them anyway.
    name = "".join(ch for ch in filename if unicodedata.category(ch) != "Cc")
    name = name or "upload"
    plain = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in _QUOTED_UNSAFE else "_"
        for ch in name
    )
    disposition = f'form-data; name="{FILE_FIELD}"; filename="{plain}"'
    if plain != name:
        # Quotes, backslashes and non-ASCII letters travel percent-encoded in
        # filename* (RFC 5987), which the server prefers to the plain name.
        disposition += f"; filename*=utf-8''{quote(name, safe='')}"
    return disposition


def _reason(error: OSError) -> str:
    """Why a connection failed, in the operating system's words."""
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host: {error.strerror}"
    if error.errno:
        # asyncio's own text ('Connect call failed ...') says less than errno.
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


async def failure(response: aiohttp.ClientResponse) -> ApiFailure:
    """An error response as ApiFailure, with the server's JSON error if it sent one."""
    text = await response.text(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    else:
        message = text.strip()[:200] or response.reason or "no details"
    return ApiFailure(response.status, message, body)


async def _file_chunks(
    handle: BinaryIO, sent: Callable[[int], None]
) -> AsyncIterator[bytes]:
    # aiohttp asks for the next chunk once the previous one is written, so
    # counting here follows what really went out, a chunk at a time.
    while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK_BYTES):
        yield chunk
        sent(len(chunk))
