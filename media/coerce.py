"""Turn raw parameter values (often strings from HTML forms) into typed values."""

from __future__ import annotations

import logging
import math

from media.catalog import BOOLEAN, INTEGER, NUMBER, STRING, Param
from media.errors import InvalidOperation
from media.text import quote

logger = logging.getLogger(__name__)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def is_blank(raw: object) -> bool:
    """Tell whether a raw value means "not given" (None or an empty form field)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def coerce(param: Param, raw: object) -> object:
    """Convert raw to the parameter's type and check its range or choices."""
    if param.type == INTEGER:
        value: object = _to_int(param, raw)
    elif param.type == NUMBER:
        value = _to_float(param, raw)
    elif param.type == BOOLEAN:
        value = _to_bool(param, raw)
    elif param.type == STRING:
        value = _to_choice(param, raw)
    else:
        raise AssertionError(f"unknown parameter type {param.type!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(param, value)
    return value


def expectation(param: Param) -> str:
    """Describe in words what values a parameter accepts."""
    if param.type == BOOLEAN:
        return "true or false"
    if param.type == STRING:
        return "one of " + ", ".join(param.choices)
    noun = "an integer" if param.type == INTEGER else "a number"
    low = "greater than" if param.exclusive_min else "at least"
    parts = []
    if param.min is not None:
        parts.append(f"{low} {_number(param.min)}")
    if param.max is not None:
        parts.append(f"at most {_number(param.max)}")
    return f"{noun} {' and '.join(parts)}" if parts else noun


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _fail(param: Param, raw: object) -> InvalidOperation:
    return InvalidOperation(
        param.name,
        f"{param.name} must be {expectation(param)} (got {quote(raw)})",
        param.choices,
    )


def _to_int(param: Param, raw: object) -> int:
    if isinstance(raw, bool):
        raise _fail(param, raw)
    if isinstance(raw, int):
        return raw
    number = _to_float(param, raw)
    if not number.is_integer():
        raise _fail(param, raw)
    return int(number)


def _to_float(param: Param, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _fail(param, raw)
    try:
        number = float(raw.strip() if isinstance(raw, str) else raw)
    except (ValueError, OverflowError):
        raise _fail(param, raw) from None
    if not math.isfinite(number):
        raise _fail(param, raw)
    return number


def _to_bool(param: Param, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _fail(param, raw)


def _to_choice(param: Param, raw: object) -> str:
    if not isinstance(raw, str):
        raise _fail(param, raw)
    word = raw.strip().lower()
    word = param.aliases.get(word, word)
    if word not in param.choices:
        raise _fail(param, raw)
    return word


def _check_range(param: Param, value: float) -> None:
    too_low = param.min is not None and (
        value <= param.min if param.exclusive_min else value < param.min
    )
    too_high = param.max is not None and value > param.max
    if too_low or too_high:
        raise _fail(param, value)
