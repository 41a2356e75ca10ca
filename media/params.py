"""Typed access to validated operation parameters."""

from __future__ import annotations

import logging
from collections.abc import Mapping

logger = logging.getLogger(__name__)

Params = Mapping[str, object]


def number(params: Params, name: str) -> float:
    """Return a numeric parameter as float."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"parameter {name!r} must be a number, not {value!r}")
    return float(value)


def integer(params: Params, name: str) -> int:
    """Return a numeric parameter as int."""
    return int(number(params, name))


def optional_integer(params: Params, name: str) -> int | None:
    """Return an integer parameter, or None when it was not given."""
    return None if params.get(name) is None else integer(params, name)
