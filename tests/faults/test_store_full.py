"""The object store refuses an upload's bytes: a clear 507, and nothing left behind."""

import pytest

from bus import subjects
from bus.file_store import CHUNK_BYTES
from bus.task_store import KvTaskStore, TaskQuery
from tests.faults.system import Refused, fault_system, small_png
from tests.node.test_admission import noise_png

ROOM_BYTES = 600 * 1024
"""What the test leaves free in the store: less than the big photo, and a
filler of some 555 KB leaves less than a small photo."""


async def files_state(js) -> tuple[int, int]:
    """Messages and bytes in the object store's stream."""
    state = (await js.stream_info(f"OBJ_{subjects.FILES_BUCKET}")).state
    return state.messages, state.bytes


async def test_an_upload_the_store_has_no_room_for_is_a_507_leaving_nothing(media_dir):
    async with fault_system(POLICY="greedy") as faults:
        faults.start("coordinator", "coordinator")
        faults.start("edge", "edge_node", NODE_ID="edge-1")
        await faults.start_web()
        await faults.wait_for_nodes("edge-1")
        js = faults.js
        store = await KvTaskStore.open(js)
        photo = (media_dir / "astronaut.png").read_bytes()
        small = small_png()
        # A real limit on the stream, as a full disk or a quota would be.
        stream = f"OBJ_{subjects.FILES_BUCKET}"
        config = (await js.stream_info(stream)).config
        config.max_bytes = (await files_state(js))[1] + ROOM_BYTES
        await js.update_stream(config)
        before = await files_state(js)

        # Several chunks: the first ones are stored, then one is refused.
        with pytest.raises(Refused) as big:
            await faults.upload(
                [("first.png", small, "image/png"), ("big.png", photo, "image/png")],
                "grayscale",
            )
        after_big = await files_state(js)
        records_after_big = await store.list(TaskQuery())

        # One chunk, into a store with almost no room left.
        filler = await faults.upload(
            [("filler.png", noise_png(430), "image/png")], "grayscale"
        )
        late = noise_png(150)
        assert len(late) < CHUNK_BYTES
        with pytest.raises(Refused) as whole:
            await faults.upload([("late.png", late, "image/png")], "grayscale")
        records = await store.list(TaskQuery())

        # The accepted filler's result does not fit either: its node hands
        # the job back until it gives up, and the task becomes a dead letter.
        await faults.ledger.wait_all_final(60)
        given_up = await faults.ledger.tally(faults.coordinator_logs())
        api = faults.system.web_url
        dead = await (await faults.http.get(f"{api}/api/v1/deadletter")).json()

        # Room again; a retry from the API completes it.
        config.max_bytes = -1
        await js.update_stream(config)
        retry = await faults.http.post(f"{api}/api/v1/tasks/{filler[0]}/retry")
        assert retry.status == 200, await retry.text()
        await faults.ledger.wait_all_final(60)
        tally = await faults.ledger.tally(faults.coordinator_logs())

    print(f"\nrefused: {big.value.status} {big.value.body['error']}")
    print(f"store full: {given_up.line()}; {given_up.errors}")
    print(f"after a retry: {tally.line()}")
    assert big.value.status == 507
    assert big.value.body["error"].startswith("the file store has no room for")
    assert "maximum bytes exceeded" in big.value.body["error"]
    assert "nothing from this upload was kept" in big.value.body["error"]
    assert after_big == before
    assert records_after_big == []
    assert whole.value.status == 507
    assert [record.id for record in records] == filler
    assert given_up.failed == 1 and given_up.strays == 0
    [(error, _)] = given_up.errors.items()
    assert error.startswith("gave up after 3 tries of attempt 1: edge-1: FileStoreFull")
    [listed] = dead["tasks"]
    assert listed["id"] == filler[0]
    assert listed["dead_letter"]["cause"] == "deliveries"
    assert "no room" in listed["error"]
    assert tally.accepted == 1 and tally.strays == 0
    assert tally.completed == 1 and tally.duplicated == 0
