"""The coordinator's life: connect, follow nodes, campaign, and while leading
place tasks, record outcomes and re-plan the queues of dead nodes."""

import asyncio
import dataclasses
import importlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.consumer import Delivery, PullConsumer
from bus.file_store import FileStore
from bus.layout_keeper import LayoutKeeper
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.schemas import ScheduledTask, TaskEvent
from bus.store_factory import open_task_store
from coordinator.dead_letters import DeliveryLimitWatcher
from coordinator.handover import take_over_consumers
from coordinator.leadership import Leadership, LeadershipSettings
from coordinator.load_view import LoadView
from coordinator.outcomes import OutcomeRecorder
from coordinator.placement import Placer
from coordinator.replan import Replanner, ReplanSettings
from coordinator.settings import CoordinatorSettings
from coordinator.xla_memory import release_free_memory
from policy.cost_model import CostModel

logger = logging.getLogger(__name__)

FETCH_WAIT_S = 1.0
MIN_FETCH_WAIT_S = 0.05
OUTCOME_BATCH = 512
LOOP_STOP_TIMEOUT_S = 10.0

Active = Callable[[], bool]
"""Asked before every fetch: whether this coordinator may still act."""


@dataclass(frozen=True)
class Duties:
    """What a leader does; a standby keeps them ready but idle."""

    js: JetStreamContext
    directory: NodeDirectory
    placer: Placer
    recorder: OutcomeRecorder
    replanner: Replanner
    dead_letters: DeliveryLimitWatcher
    settings: CoordinatorSettings


async def run_coordinator(settings: CoordinatorSettings, stop: asyncio.Event) -> None:
    """Stand by or lead until `stop` is set."""
    nc = await connect(settings.bus, "coordinator")
    js = jetstream(nc)
    await provision(js, settings.bus)
    keeper = LayoutKeeper(nc, js, settings.bus)
    keeper.start()

    store = await open_task_store(js)
    nodes_kv = await nodes_bucket(js)
    directory = NodeDirectory(nodes_kv, settings.bus.node_ttl_s)
    await directory.start()
    costs = CostModel()
    placer = Placer(
        js, store, LoadView(directory, costs), costs, settings.no_node_retry_s
    )
    # Importing JAX, loading the model and compiling take seconds: they run
    # beside the campaign, so a coordinator can lead at once, placing by
    # earliest finish until the policy is ready.
    preparing = asyncio.create_task(
        _prepare(js, placer, settings, stop), name="policy-prepare"
    )
    recorder = OutcomeRecorder(
        store, directory, costs, placer.finished, files=FileStore(js)
    )
    replanner = Replanner(
        js,
        store,
        directory,
        settings.bus.node_ttl_s,
        ReplanSettings.from_env(),
        nodes_kv=nodes_kv,
    )
    dead_letters = DeliveryLimitWatcher(nc, js, store)
    duties = Duties(js, directory, placer, recorder, replanner, dead_letters, settings)
    leadership = await Leadership.open(js, LeadershipSettings.from_env())
    campaign = asyncio.create_task(leadership.run(stop), name="leadership")
    logger.info("coordinator %s started", leadership.coordinator_id)

    try:
        while await leadership.wait_leading(stop):
            await _lead(duties, leadership, stop)
    finally:
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
        await leadership.release()
        await keeper.close()
        await directory.close()
        await asyncio.gather(preparing, return_exceptions=True)
        await _save_model(js, placer)
        await close(nc)
        logger.info(
            "coordinator stopped: %d placed, %d finished, %d re-planned, "
            "%d given up this run",
            placer.placed_count,
            recorder.finished_count,
            replanner.replanned_count,
            replanner.given_up_count + dead_letters.given_up_count,
        )


async def _prepare(
    js: JetStreamContext,
    placer: Placer,
    settings: CoordinatorSettings,
    stop: asyncio.Event,
) -> None:
    """Load the DQN and compile the common batch sizes, then hand the policy over.

    With the DQN, online learning then runs here until `stop`.
    """
    if settings.policy == "greedy":
        # The placer's own earliest-finish path is the greedy policy: no JAX,
        # no thread hop per batch.
        logger.info("policy greedy ready")
        return
    try:
        # Imported in a thread: JAX takes over a second to import, and the
        # coordinator leads (placing by earliest finish) meanwhile.
        decider_module = await asyncio.to_thread(
            importlib.import_module, "coordinator.decider"
        )
        from coordinator import learning, policy_model

        model = await policy_model.load(js)
        learner = None
        if settings.policy == "dqn":
            learner = learning.Learner(settings.learning, model, settings.seed)
        decider = decider_module.Decider(
            settings.policy, model, seed=settings.seed, learner=learner
        )
        warm_s = await asyncio.to_thread(decider.warm_up)
        release_free_memory()
    except Exception:
        logger.exception("policy preparation failed; placing by earliest finish")
        return
    placer.decider = decider
    logger.info("policy %s ready, warmed up in %.1f s", decider.policy, warm_s)

    if learner is not None and settings.learning.enabled:

        async def save(model: policy_model.PolicyModel) -> None:
            await _save_model(js, placer)

        await learning.run_learning(decider, learner, save, stop)


async def _save_model(js: JetStreamContext, placer: Placer) -> None:
    """Keep the DQN's current parameters in the `policy` bucket for the next run."""
    decider = placer.decider
    if decider is None or decider.policy != "dqn":
        return
    from coordinator import policy_model

    if decider.learner is not None:
        decider.model = dataclasses.replace(
            decider.model, meta=decider.learner.meta(decider.model)
        )
    try:
        await policy_model.save(js, decider.model)
    except (nats.errors.Error, APIError, TimeoutError) as error:
        logger.warning("could not save the policy model: %s", error)


async def _refresh_model(js: JetStreamContext, placer: Placer) -> None:
    """On taking the lead, carry on from the newest checkpoint (a previous
    leader's learning), not from what this coordinator loaded at its start."""
    decider = placer.decider
    if decider is None or decider.policy != "dqn":
        return
    from coordinator import policy_model

    stored = await policy_model.load_stored(js)
    if stored is None or stored.version == decider.model.version:
        return
    decider.model = stored
    if decider.learner is not None:
        decider.learner.adopt(stored)
    logger.info("carrying on with policy model %s from the bucket", stored.version)


async def _lead(duties: Duties, leadership: Leadership, stop: asyncio.Event) -> None:
    """One term as leader: fetch and act until the lease is lost or `stop`."""

    def active() -> bool:
        return leadership.leading and not stop.is_set()

    def fetch_wait_s() -> float:
        # A fetch ends with the lease (give or take the floor, far inside the
        # safety margin), so no message is taken once a standby may lead.
        return max(min(FETCH_WAIT_S, leadership.lease_left_s()), MIN_FETCH_WAIT_S)

    scheduled = PullConsumer(
        duties.js,
        subjects.TASKS_STREAM,
        subjects.COORDINATOR_TASKS_CONSUMER,
        subjects.TASKS_SCHEDULED,
        ScheduledTask.decode,
        max_deliver=-1,
    )
    events = PullConsumer(
        duties.js,
        subjects.EVENTS_STREAM,
        subjects.COORDINATOR_EVENTS_CONSUMER,
        subjects.EVENTS_ALL,
        TaskEvent.decode,
        max_deliver=-1,
    )
    try:
        await _refresh_model(duties.js, duties.placer)
        await take_over_consumers(duties.js)
        await scheduled.bind()
        await events.bind()
        await duties.dead_letters.start()
    except (nats.errors.Error, APIError, TimeoutError) as error:
        # Still leading: the caller comes straight back here to try again.
        logger.warning("could not take the consumers over: %s; retrying", error)
        await scheduled.close()
        await events.close()
        await duties.dead_letters.stop()
        await asyncio.sleep(0.5)
        return
    settings = duties.settings
    logger.info(
        "coordinator placing with %s (window %.1f ms, batch up to %d); %d nodes live",
        settings.policy,
        settings.batch_window_ms,
        settings.max_batch,
        len(duties.directory.live()),
    )

    loops = [
        asyncio.create_task(
            _placement_loop(scheduled, duties.placer, settings, active, fetch_wait_s)
        ),
        asyncio.create_task(
            _outcome_loop(events, duties.recorder, active, fetch_wait_s)
        ),
        asyncio.create_task(duties.replanner.run(active)),
    ]
    try:
        await leadership.wait_deposed(stop)
    finally:
        # The loops stop fetching as soon as the lease is gone; a batch in
        # hand is finished, which is cheaper than having it redelivered.
        _, late = await asyncio.wait(loops, timeout=LOOP_STOP_TIMEOUT_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await duties.dead_letters.stop()
        await scheduled.close()
        await events.close()


async def _placement_loop(
    consumer: PullConsumer[ScheduledTask],
    placer: Placer,
    settings: CoordinatorSettings,
    active: Active,
    fetch_wait_s: Callable[[], float],
) -> None:
    window_s = settings.batch_window_ms / 1000
    while active():
        try:
            batch = await consumer.fetch(settings.max_batch, wait_s=fetch_wait_s())
            if not batch:
                continue
            # Collect a little longer so a burst is decided in one call.
            deadline = time.monotonic() + window_s
            while len(batch) < settings.max_batch:
                left_s = min(deadline - time.monotonic(), fetch_wait_s())
                if left_s <= 0:
                    break
                more = await consumer.fetch(
                    settings.max_batch - len(batch), wait_s=left_s
                )
                if not more:
                    break
                batch.extend(more)
            await placer.place(batch)
        except nats.errors.ConnectionClosedError:
            return
        except Exception:
            logger.exception("placement loop error; carrying on")
            await asyncio.sleep(0.5)


async def _outcome_loop(
    consumer: PullConsumer[TaskEvent],
    recorder: OutcomeRecorder,
    active: Active,
    fetch_wait_s: Callable[[], float],
) -> None:
    while active():
        try:
            batch: list[Delivery[TaskEvent]] = await consumer.fetch(
                OUTCOME_BATCH, wait_s=fetch_wait_s()
            )
            if batch:
                await recorder.record(batch)
        except nats.errors.ConnectionClosedError:
            return
        except Exception:
            logger.exception("outcome loop error; carrying on")
            await asyncio.sleep(0.5)


async def serve(settings: CoordinatorSettings) -> None:
    """Run the coordinator until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_coordinator(settings, stop)
