"""Progress on stderr: a redrawn line on a terminal, occasional plain lines otherwise.

Stdout is kept for results (task ids, summaries, tables), so a script can pipe
it while a person still sees how an upload or a wait is going.
"""

import math
import shutil
import sys
import time
from typing import Any, TextIO

from bus.schemas import FINAL_STATUSES
from web.client import formatting

REDRAW_EVERY_S = 0.1
PLAIN_EVERY_S = 2.0
BAR_CELLS = 24
LABEL_CHARS = 30
_CLEAR_LINE = "\r\x1b[K"


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """A name cut to `limit` characters with an ellipsis in the middle."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-(limit - 1 - half) :]}"


class TransferProgress:
    """Bytes moved for one file out of its total, with the rate."""

    def __init__(
        self, label: str, total: int | None, verb: str, stream: TextIO | None = None
    ) -> None:
        self._label = short_label(label)
        self._total = total
        self._verb = verb
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        self._moved = 0
        self._began = time.monotonic()
        self._last_shown = self._began

    @property
    def moved(self) -> int:
        """Bytes moved so far."""
        return self._moved

    def advance(self, count: int) -> None:
        """Count `count` more bytes; redraw when it is time to."""
        self._moved += count
        now = time.monotonic()
        every = REDRAW_EVERY_S if self._interactive else PLAIN_EVERY_S
        if now - self._last_shown >= every:
            self._last_shown = now
            self._show(now, final=False)

    def finish(self) -> None:
        """The transfer is complete: one last line that stays."""
        self._show(time.monotonic(), final=True)

    def abandon(self) -> None:
        """The transfer stopped early: end the line so an error can follow."""
        if self._interactive:
            self._stream.write("\n")
        else:
            total = formatting.size(self._total)
            self._stream.write(
                f"{self._label}: stopped after {formatting.size(self._moved)}"
                f" of {total}\n"
            )
        self._stream.flush()

    def _show(self, now: float, final: bool) -> None:
        elapsed = max(now - self._began, 1e-6)
        speed = formatting.rate(self._moved / elapsed)
        if self._interactive:
            line = f"{_CLEAR_LINE}{self._label}  {self._bar()}  {speed}"
            self._stream.write(line + ("\n" if final else ""))
        elif final:
            moved = formatting.size(self._moved)
            took = formatting.seconds(elapsed)
            self._stream.write(
                f"{self._label}: {self._verb} {moved} in {took} ({speed})\n"
            )
        else:
            self._stream.write(f"{self._label}: {self._plain_progress()} ({speed})\n")
        self._stream.flush()

    def _bar(self) -> str:
        moved = formatting.size(self._moved)
        if not self._total:
            return f"{moved} {self._verb}"
        fraction = min(self._moved / self._total, 1.0)
        filled = round(fraction * BAR_CELLS)
        cells = "#" * filled + "-" * (BAR_CELLS - filled)
        total = formatting.size(self._total)
        return f"[{cells}] {fraction:4.0%}  {moved} / {total}"

    def _plain_progress(self) -> str:
        moved = formatting.size(self._moved)
        if not self._total:
            return f"{moved} {self._verb}"
        fraction = min(self._moved / self._total, 1.0)
        return f"{fraction:.0%} of {formatting.size(self._total)} {self._verb}"


class WaitDisplay:
    """Where each followed task stands, while waiting for all to be final."""

    def __init__(
        self, records: dict[str, dict[str, Any]], stream: TextIO | None = None
    ):
        self._records = records
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        # The last status and progress quarter shown per task, for plain lines.
        self._shown: dict[str, tuple[str, int]] = {}
        self._last_drawn = -math.inf

    def update(self, record: dict[str, Any]) -> None:
        """Show a task's new state (called after `records` holds it)."""
        if self._interactive:
            now = time.monotonic()
            if record.get("status") in FINAL_STATUSES or (
                now - self._last_drawn >= REDRAW_EVERY_S
            ):
                self._last_drawn = now
                self._draw_line()
            return

        status = record.get("status", "?")
        quarter = int((record.get("progress") or 0.0) * 4)
        if self._shown.get(record["id"]) == (status, quarter):
            return
        self._shown[record["id"]] = (status, quarter)
        self._stream.write(f"{describe(record)}\n")
        self._stream.flush()

    def close(self) -> None:
        """Clear the redrawn line (the summary follows on stdout)."""
        if self._interactive:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()

    def _draw_line(self) -> None:
        records = list(self._records.values())
        final = sum(r.get("status") in FINAL_STATUSES for r in records)
        busy = [describe(r) for r in records if r.get("status") not in FINAL_STATUSES]
        line = " · ".join([f"waiting: {final}/{len(records)} final", *busy])
        width = shutil.get_terminal_size().columns - 1
        self._stream.write(_CLEAR_LINE + line[:width])
        self._stream.flush()


def describe(record: dict[str, Any]) -> str:
    """One task's state in a few words: 'clip.mp4 running on edge/edge-1 45%'."""
    words = [short_label(record.get("filename") or record["id"]), record["status"]]
    if record.get("tier"):
        where = record["tier"] + (
            f"/{record['node_id']}" if record.get("node_id") else ""
        )
        words.append(f"on {where}")
    progress = record.get("progress")
    if progress is not None and record["status"] not in FINAL_STATUSES:
        words.append(f"{progress:.0%}")
    return " ".join(words)
