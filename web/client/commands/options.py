"""Argument types and helpers shared by the commands."""

import argparse
import json
import sys
from typing import Any

from web.client.api import ApiClient


def positive_float(raw: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds > 0, not {raw!r}"
        )
    return value


def positive_int(raw: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {raw!r}")
    return value


def key_value(raw: str) -> tuple[str, str]:
    """An argparse type: KEY=VALUE with a non-empty key."""
    key, equals, value = raw.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {raw!r}")
    return key.strip(), value


def api_for(args: argparse.Namespace) -> ApiClient:
    """The API client for the global --url and --token."""
    return ApiClient(args.url, args.token)


def print_json(value: Any) -> None:
    """Machine-readable output on stdout."""
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
