"""Check an operation request and normalise its parameters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from media.catalog import OPERATIONS, Operation, operation_names
from media.coerce import coerce, is_blank
from media.errors import InvalidOperation
from media.formats import IMAGE, KINDS, VIDEO
from media.limits import MAX_SIDE
from media.text import quote

logger = logging.getLogger(__name__)


def validate_operation(kind: str, name: str, params: Mapping[str, object]) -> dict:
    """Return params with defaults filled in and values converted to their types."""
    operation = lookup_operation(kind, name)
    values: dict[str, object] = {p.name: p.default for p in operation.params}
    for key, raw in params.items():
        # Only a string can name a parameter; str() of anything else could
        # itself fail (an int too long to print).
        param = operation.param(key) if isinstance(key, str) else None
        if param is None:
            raise _unknown_param(operation, key)
        if not is_blank(raw):
            values[param.name] = coerce(param, raw)
    rule = _RULES.get((operation.kind, operation.name))
    if rule is not None:
        rule(operation, values)
    return values


def lookup_operation(kind: str, name: str) -> Operation:
    """Return the catalog entry for an operation, or raise InvalidOperation."""
    if kind not in KINDS:
        raise InvalidOperation(
            "kind",
            f"unknown media kind {quote(kind)}; valid kinds: {', '.join(KINDS)}",
            KINDS,
        )
    operation = OPERATIONS[kind].get(name) if isinstance(name, str) else None
    if operation is None:
        valid = operation_names(kind)
        raise InvalidOperation(
            "operation",
            f"unknown operation {quote(name)}; valid operations for {kind}s: "
            + ", ".join(valid),
            valid,
        )
    return operation


def _unknown_param(operation: Operation, key: object) -> InvalidOperation:
    valid = [p.name for p in operation.params]
    accepted = (
        "valid parameters: " + ", ".join(valid) if valid else "it takes no parameters"
    )
    return InvalidOperation(
        key[:40] if isinstance(key, str) else quote(key),
        f"unknown parameter {quote(key)} for {operation.kind} {operation.name};"
        f" {accepted}",
        valid,
    )


def _check_resize(operation: Operation, values: dict[str, object]) -> None:
    # Exactly one way of sizing, so a request is never silently half-ignored.
    by_side = values.get("width") is not None or values.get("height") is not None
    by_scale = values.get("scale") is not None
    ways = ["width", "height", "scale"]
    if by_side and by_scale:
        raise InvalidOperation(
            "scale", "resize takes width and/or height, or scale, not both", ways
        )
    if not by_side and not by_scale:
        raise InvalidOperation(
            "width", "resize needs width and/or height, or scale", ways
        )


def _check_sheet(operation: Operation, values: dict[str, object]) -> None:
    columns, tile_width = values["columns"], values["tile_width"]
    assert isinstance(columns, int) and isinstance(tile_width, int)
    width = columns * tile_width
    if width > MAX_SIDE:
        raise InvalidOperation(
            "tile_width",
            f"contact sheet would be {width} px wide (columns x tile_width);"
            f" the maximum is {MAX_SIDE}",
        )


_RULES: Mapping[tuple[str, str], Callable[[Operation, dict[str, object]], None]] = {
    (IMAGE, "resize"): _check_resize,
    (VIDEO, "resize"): _check_resize,
    (VIDEO, "thumbnail"): _check_sheet,
}
