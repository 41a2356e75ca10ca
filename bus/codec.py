"""msgpack encoding for everything that crosses the bus."""

from typing import Any

import msgpack

from bus.errors import MalformedMessage

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def pack(payload: dict[str, Any]) -> bytes:
    """Encode a message map."""
    return msgpack.packb(payload, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    """Decode a message map, or raise MalformedMessage saying why not."""
    if not data:
        raise MalformedMessage("empty payload")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"payload of {len(data)} bytes is too large")
    try:
        payload = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as error:  # msgpack raises several unrelated types
        raise MalformedMessage(f"not msgpack ({error})") from None
    if not isinstance(payload, dict):
        raise MalformedMessage(f"expected a map, got {type(payload).__name__}")
    return payload
