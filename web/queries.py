"""Reading the query string of a task listing, with a 400 for each bad value.

Paging is by position in the listing order (newest upload first, then id):
the cursor names the last task of a page by its upload time and id, so the
next page is right even when that task has been deleted since.
"""

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from bus.schemas import TASK_STATUSES, TIERS, TaskRecord
from bus.task_store import TaskQuery, sort_key
from web.aggregates import KINDS
from web.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

SortKey = tuple[float, str]


def choice(query: Mapping[str, str], name: str, valid: tuple[str, ...]) -> str | None:
    """An optional value that must be one of `valid`."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in valid:
        raise ApiError(
            400,
            f"{name} must be one of {', '.join(valid)}, not {raw[:40]!r}",
            field=name,
            valid=list(valid),
        )
    return raw


def whole_number(
    query: Mapping[str, str], name: str, default: int, low: int, high: int
) -> int:
    """An optional whole number from `low` to `high`."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    if value is None or not low <= value <= high:
        raise ApiError(
            400,
            f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}",
            field=name,
        )
    return value


def encode_cursor(record: TaskRecord) -> str:
    """The cursor that continues a listing after this record."""
    negated_time, task_id = sort_key(record)
    text = f"{negated_time!r}|{task_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> SortKey:
    """The listing position a cursor names, or a 400."""
    try:
        padded = raw + "=" * (-len(raw) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        negated_time, separator, task_id = text.partition("|")
        position = (float(negated_time), task_id)
    except (ValueError, UnicodeError, binascii.Error):
        position = None
    if position is None or not separator or not task_id:
        raise ApiError(
            400,
            "cursor is not one this service gave out; use next_cursor as it came",
            field="cursor",
        )
    return position


@dataclass(frozen=True)
class Listing:
    """One page of a task listing as the query string asked for it."""

    status: str | None
    tier: str | None
    kind: str | None
    filename: str | None
    limit: int
    after: SortKey | None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "Listing":
        """Read and check every listing parameter."""
        cursor = query.get("cursor")
        return cls(
            status=choice(query, "status", TASK_STATUSES),
            tier=choice(query, "tier", TIERS),
            kind=choice(query, "kind", KINDS),
            filename=query.get("filename") or None,
            limit=whole_number(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            after=decode_cursor(cursor) if cursor else None,
        )

    def filters(self) -> TaskQuery:
        """The listing's filters, without paging (what `total` counts)."""
        return TaskQuery(
            status=self.status, tier=self.tier, kind=self.kind, filename=self.filename
        )

    def store_query(self) -> TaskQuery:
        """The filters and this page's position, plus one record to see if
        another page follows."""
        return dataclasses.replace(
            self.filters(), after=self.after, limit=self.limit + 1
        )

    def page(self, fetched: list[TaskRecord]) -> tuple[list[TaskRecord], str | None]:
        """This page of what `store_query` fetched, and the next page's cursor."""
        page = fetched[: self.limit]
        more = len(fetched) > self.limit
        return page, encode_cursor(page[-1]) if more and page else None
