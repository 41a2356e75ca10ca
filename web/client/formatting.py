"""Human-readable sizes, durations, times and plain-text tables."""

import time
from collections.abc import Sequence

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(count: float | None) -> str:
    """Bytes with a binary unit: 512 B, 1.5 MiB; '-' when unknown."""
    if count is None:
        return "-"
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable: the last unit always returns")


def rate(bytes_per_s: float) -> str:
    """A transfer rate: 12.3 MiB/s."""
    return f"{size(bytes_per_s)}/s"


def milliseconds(value: float | None) -> str:
    """A duration given in milliseconds: 85 ms, 1.24 s, 3 min 5 s."""
    if value is None:
        return "-"
    return seconds(value / 1000)


def seconds(value: float | None) -> str:
    """A duration given in seconds: 85 ms, 1.24 s, 3 min 5 s."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.2f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def timestamp(epoch_s: float | None) -> str:
    """An epoch time as local date and time with milliseconds; '-' when unset."""
    if epoch_s is None:
        return "-"
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))
    return f"{local}.{int(epoch_s % 1 * 1000):03d}"


def age(epoch_s: float | None, now: float | None = None) -> str:
    """How long ago an epoch time was: 4.2 s ago."""
    if epoch_s is None:
        return "-"
    elapsed = (time.time() if now is None else now) - epoch_s
    return f"{seconds(max(elapsed, 0.0))} ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
