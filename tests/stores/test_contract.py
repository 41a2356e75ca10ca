"""The task-store contract, checked on every implementation (see conftest)."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from bus.errors import TaskExists, TaskNotFound
from bus.schemas import TASK_STATUSES, TaskRecord
from bus.task_store import TaskChange, TaskQuery, TaskStore, sort_key
from tests.factories import task_record
from tests.stores.conftest import StoreKit

EVENTUALLY_S = 5.0


def record(**fields) -> TaskRecord:
    """A new image task with a unique id, uploaded now unless told otherwise."""
    values = {"id": uuid.uuid4().hex, "uploaded_at": time.time(), "size": 10}
    values.update(fields)
    return task_record(**values)


def ids(records: list[TaskRecord]) -> list[str]:
    """The ids, in order."""
    return [r.id for r in records]


def bump(task: TaskRecord) -> bool:
    """One more attempt: a change that always writes."""
    task.attempts += 1
    return True


def to_status(status: str) -> Callable[[TaskRecord], bool]:
    """A change that moves a task to `status`."""

    def change(task: TaskRecord) -> bool:
        task.status = status
        return True

    return change


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check` holds, or fail naming `what`."""
    deadline = time.monotonic() + EVENTUALLY_S
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"after {EVENTUALLY_S} s still not: {what}")
        await asyncio.sleep(0.02)


def changes_unavailable() -> tuple[type[BaseException], ...]:
    """The error a store raises when its server cannot follow changes."""
    try:
        from bus.mongo_store import ChangesUnavailable
    except ImportError:
        return ()
    return (ChangesUnavailable,)


@contextlib.asynccontextmanager
async def followed(store: TaskStore) -> AsyncIterator[AsyncIterator[TaskChange]]:
    """The store's change feed; skip where the server cannot give one."""
    feed = store.changes()
    try:
        changes = await feed.__aenter__()
    except changes_unavailable() as error:
        pytest.skip(str(error))
    try:
        yield changes
    finally:
        await feed.__aexit__(None, None, None)


async def test_a_created_record_reads_back_as_it_was_and_its_id_stays_taken(store):
    made = record(
        params={"width": 320, "nested": {"a": [1, 2.5, "x"]}},
        explanation={"policy": "dqn", "q_values": {"edge": -1.5, "cloud": -2.0}},
        uploaded_at=1700000000.125,
    )

    await store.create(made)

    assert await store.get(made.id) == made
    with pytest.raises(TaskExists):
        await store.create(record(id=made.id, filename="other.png"))
    assert (await store.get(made.id)).filename == made.filename


async def test_unknown_ids_are_not_found_by_get_update_or_delete(store):
    for task_id in (uuid.uuid4().hex, "../etc/passwd", "a b"):
        with pytest.raises(TaskNotFound):
            await store.get(task_id)
        with pytest.raises(TaskNotFound):
            await store.update(task_id, bump)
        with pytest.raises(TaskNotFound):
            await store.delete(task_id)


async def test_concurrent_writers_on_one_record_lose_no_update(kit: StoreKit):
    writer_a, writer_b = await kit.open(), await kit.open()
    made = record()
    await writer_a.create(made)
    await writer_b.get(made.id)  # both now hold the same revision in memory

    await asyncio.gather(
        *[writer_a.update(made.id, bump) for _ in range(10)],
        *[writer_b.update(made.id, bump) for _ in range(10)],
    )

    assert (await writer_a.get(made.id)).attempts == 20
    assert (await writer_b.get(made.id)).attempts == 20


async def test_an_update_starts_from_what_another_writer_stored(kit: StoreKit):
    mine, theirs = await kit.open(), await kit.open()
    made = record()
    await mine.create(made)  # `mine` remembers the first revision
    await theirs.update(made.id, to_status("scheduled"))

    stored = await mine.update(made.id, bump)

    assert (stored.status, stored.attempts) == ("scheduled", 1)
    assert await theirs.get(made.id) == stored


async def test_a_change_that_writes_nothing_returns_the_record_unchanged(store):
    made = record()
    await store.create(made)
    seen: list[TaskRecord] = []

    def look(task: TaskRecord) -> bool:
        seen.append(task.copy())
        return False

    returned = await store.update(made.id, look)

    assert returned == made == seen[0]
    assert await store.get(made.id) == made


async def test_delete_removes_the_record_from_reads_and_listings(store):
    kept, gone = record(), record()
    await store.create(kept)
    await store.create(gone)

    await store.delete(gone.id)

    with pytest.raises(TaskNotFound):
        await store.get(gone.id)
    with pytest.raises(TaskNotFound):
        await store.delete(gone.id)
    assert ids(await store.list(TaskQuery())) == [kept.id]
    assert await store.count(TaskQuery()) == 1


def assorted() -> list[TaskRecord]:
    """Records over every status, both tiers and none, both kinds, two names;
    upload times tie in pairs and one is unknown, so order needs the id too."""
    made = []
    for n in range(21):
        kind = "video" if n % 3 == 0 else "image"
        made.append(
            record(
                status=TASK_STATUSES[n % len(TASK_STATUSES)],
                tier=(None, "edge", "cloud")[n % 3],
                kind=kind,
                content_type="video/mp4" if kind == "video" else "image/png",
                filename="clip.mp4" if n % 4 == 0 else "photo.png",
                uploaded_at=None if n == 7 else 1000.0 + n // 2,
            )
        )
    return made


def selected(ordered: list[TaskRecord], query: TaskQuery) -> list[TaskRecord]:
    """The records a query's filters let through, worked out here."""
    return [
        one
        for one in ordered
        if all(
            getattr(query, name) in (None, getattr(one, name))
            for name in ("status", "tier", "kind", "filename")
        )
    ]


async def create_all(store: TaskStore, made: list[TaskRecord]) -> list[TaskRecord]:
    """Store every record; return them in listing order."""
    for one in made:
        await store.create(one)
    return sorted(made, key=sort_key)


async def test_listing_is_newest_first_with_ties_by_id_and_unknown_times_last(store):
    expected = await create_all(store, assorted())

    listed = await store.list(TaskQuery())

    assert ids(listed) == ids(expected)
    assert listed[-1].uploaded_at is None
    assert await store.count(TaskQuery()) == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        TaskQuery(status="completed"),
        TaskQuery(status="uploaded"),
        TaskQuery(tier="edge"),
        TaskQuery(tier="cloud"),
        TaskQuery(kind="video"),
        TaskQuery(filename="clip.mp4"),
        TaskQuery(status="failed", kind="image"),
        TaskQuery(tier="cloud", kind="video", filename="clip.mp4"),
        TaskQuery(status="cancelled", tier="edge", kind="video"),
    ],
    ids=repr,
)
async def test_every_filter_and_their_combinations_select_the_same_records(
    store, query
):
    expected = await create_all(store, assorted())
    wanted = selected(expected, query)

    listed = await store.list(query)

    assert ids(listed) == ids(wanted)
    assert await store.count(query) == len(wanted)
    paged = replace(query, limit=1, after=sort_key(expected[0]))
    assert await store.count(paged) == len(wanted)


async def test_paging_by_position_visits_every_record_once_in_order(store):
    expected = await create_all(store, assorted())
    for query in (TaskQuery(), TaskQuery(kind="image"), TaskQuery(tier="edge")):
        wanted = selected(expected, query)
        pages, position = [], None
        while page := await store.list(replace(query, limit=4, after=position)):
            assert len(page) <= 4
            pages.append(page)
            position = sort_key(page[-1])

        assert ids([one for page in pages for one in page]) == ids(wanted)
        assert len(pages) == -(-len(wanted) // 4)


async def test_paging_by_task_id_matches_paging_by_position(store):
    expected = await create_all(store, assorted())
    seen: list[TaskRecord] = []
    cursor = None
    while page := await store.list(TaskQuery(limit=5, before=cursor)):
        seen += page
        cursor = page[-1].id

    assert ids(seen) == ids(expected)
    assert await store.list(TaskQuery(before=uuid.uuid4().hex)) == []
    # A cursor outside the filtered listing ends it, as in memory.
    outside = next(one for one in expected if one.kind == "video")
    assert await store.list(TaskQuery(kind="image", before=outside.id)) == []


async def test_a_position_stays_valid_after_its_record_is_deleted(store):
    expected = await create_all(store, assorted())
    first = await store.list(TaskQuery(limit=6))
    await store.delete(first[-1].id)

    rest = await store.list(TaskQuery(after=sort_key(first[-1])))

    assert ids(first[:-1] + rest) == ids(
        [one for one in expected if one.id != first[-1].id]
    )


async def test_limit_zero_lists_nothing_and_a_negative_limit_is_refused(store):
    await create_all(store, assorted()[:3])

    assert await store.list(TaskQuery(limit=0)) == []
    with pytest.raises(ValueError, match="limit"):
        TaskQuery(limit=-1)


async def test_the_web_view_shows_its_own_writes_at_once_and_others_soon(
    kit: StoreKit,
):
    web, coordinator = await kit.open(), await kit.open()
    early = record(uploaded_at=1.0)
    await coordinator.create(early)
    await web.start_view()
    assert ids(await web.list(TaskQuery())) == [early.id]

    uploaded = record()
    await web.create(uploaded)
    assert ids(await web.list(TaskQuery())) == [uploaded.id, early.id]

    placed = record(uploaded_at=2.0)
    await coordinator.create(placed)
    await coordinator.update(placed.id, to_status("placed"))

    async def placed_is_listed() -> bool:
        return ids(await web.list(TaskQuery(status="placed"))) == [placed.id]

    await eventually(placed_is_listed, "another writer's record listed as placed")

    # Whatever the view last saw, an update lands on the newest version.
    await coordinator.update(placed.id, to_status("running"))
    stored = await web.update(placed.id, bump)
    assert (stored.status, stored.attempts) == ("running", 1)

    await coordinator.delete(early.id)

    async def early_is_gone() -> bool:
        return early.id not in ids(await web.list(TaskQuery()))

    await eventually(early_is_gone, "another writer's delete reaching the view")
    await web.delete(uploaded.id)
    assert ids(await web.list(TaskQuery())) == [placed.id]


async def test_the_change_feed_reports_every_write_in_order(kit: StoreKit):
    follower, writer = await kit.open(), await kit.open()
    made = record()

    async with followed(follower) as feed:
        await writer.create(made)
        await writer.update(made.id, to_status("scheduled"))
        await writer.delete(made.id)
        received = [await asyncio.wait_for(anext(feed), EVENTUALLY_S) for _ in range(3)]

    assert [change.task_id for change in received] == [made.id] * 3
    created, scheduled, deleted = received
    assert created.decoded() == made
    assert not created.deleted
    assert scheduled.decoded().status == "scheduled"
    assert deleted.deleted
    assert deleted.decoded() is None


async def test_the_change_feed_starts_with_changes_made_after_it_opened(
    kit: StoreKit,
):
    follower, writer = await kit.open(), await kit.open()
    before, after = record(), record()
    await writer.create(before)

    async with followed(follower) as feed:
        await writer.create(after)
        first = await asyncio.wait_for(anext(feed), EVENTUALLY_S)

    assert first.task_id == after.id
