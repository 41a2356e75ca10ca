"""Reading the query string of a task listing, with a 400 for each bad value."""

from collections.abc import Mapping

from bus.schemas import TASK_STATUSES, TIERS
from bus.task_store import TaskQuery
from web.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


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


def limit(query: Mapping[str, str]) -> int:
    """The page size: 1 to MAX_LIMIT, DEFAULT_LIMIT when not given."""
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(
            400,
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:40]!r}",
            field="limit",
        )
    return value


def task_query(query: Mapping[str, str]) -> TaskQuery:
    """The TaskQuery for one page: one more than the limit, to find the next page."""
    page_size = limit(query)
    return TaskQuery(
        status=choice(query, "status", TASK_STATUSES),
        tier=choice(query, "tier", TIERS),
        filename=query.get("filename") or None,
        limit=page_size + 1,
        before=query.get("cursor") or None,
    )
