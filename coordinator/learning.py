"""Learning from real completions: experience, background training, checkpoints.

Every DQN decision is remembered with its observation and the action taken.
When the task completes, its reward is what the simulator trained for: minus
the end-to-end latency plus the weighted cloud cost, scaled the same way. The
next observation of a decision is the one of the task decided after it, as in
the simulator, so a transition is complete once the task has finished and a
later task has been decided.

Training runs in rounds on a worker thread: a few gradient steps on batches
drawn from the replay ring, all in one jitted call, then the decider swaps in
the new parameters between two batches. Placement never waits for training.
The target network follows the online one by Polyak averaging at every step
(`DQNConfig.tau`). Exploration decays linearly with decisions to a floor, and
the decision count travels in the checkpoint, so a restart does not explore
afresh.
"""

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from bus.schemas import TaskRecord
from coordinator.policy_model import PolicyModel
from coordinator.settings import LearningSettings
from coordinator.xla_memory import release_free_memory
from policy import dqn
from policy.observation import OBS_DIM
from policy.replay import Transition

logger = logging.getLogger(__name__)

CLOUD_COST_WEIGHT = 1.0
"""Cost weight times price per cloud CPU-second, as the DQN was trained with."""
REWARD_SCALE_S = 2.0
"""Rewards are divided by this, as in the simulator's training scenarios."""


def reward(record: TaskRecord) -> float | None:
    """The simulator's reward for a completed task; None when it has none."""
    if record.status != "completed" or record.total_ms is None:
        return None
    cost_s = 0.0
    if record.tier == "cloud":
        cost_s = CLOUD_COST_WEIGHT * (record.compute_ms or 0.0) / 1000
    return -(record.total_ms / 1000 + cost_s) / REWARD_SCALE_S


@dataclass
class _Step:
    obs: np.ndarray
    action: int
    next_obs: np.ndarray | None = None
    reward: float | None = None


class Experience:
    """Decisions waiting for their outcome, and the replay ring of finished ones.

    Called from the decision thread, the event loop and the training thread,
    so every method holds one lock; each is short.
    """

    def __init__(self, capacity: int, pending_limit: int) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, _Step] = OrderedDict()
        self._pending_limit = pending_limit
        self._last_decided: _Step | None = None
        self._obs = np.zeros((capacity, OBS_DIM), np.float32)
        self._next_obs = np.zeros((capacity, OBS_DIM), np.float32)
        self._action = np.zeros(capacity, np.int32)
        self._reward = np.zeros(capacity, np.float32)
        self._pos = 0
        self.size = 0
        self.added = 0
        """Transitions ever completed (a counter, not the ring's fill)."""

    def remember(
        self, task_ids: list[str], obs: np.ndarray, actions: np.ndarray
    ) -> None:
        """Note decisions in the order they were made; obs is (n, OBS_DIM)."""
        with self._lock:
            for task_id, row, action in zip(task_ids, obs, actions, strict=True):
                step = _Step(np.asarray(row, np.float32), int(action))
                if self._last_decided is not None:
                    self._last_decided.next_obs = step.obs
                    self._store_if_ready(self._last_decided)
                self._last_decided = step
                self._pending.pop(task_id, None)
                self._pending[task_id] = step
            while len(self._pending) > self._pending_limit:
                self._pending.popitem(last=False)

    def finished(self, record: TaskRecord) -> None:
        """A task reached its end: its transition is kept if it has a reward."""
        with self._lock:
            step = self._pending.pop(record.id, None)
            if step is None:
                return
            step.reward = reward(record)
            # A failure says nothing about where the task should have gone
            # (bad input fails everywhere): it is not a transition.
            if step.reward is not None:
                self._store_if_ready(step)

    def sample(self, rng: np.random.Generator, steps: int, batch: int) -> Transition:
        """`steps` batches of `batch` transitions, drawn uniformly with replacement."""
        with self._lock:
            idx = rng.integers(0, self.size, (steps, batch))
            obs, next_obs = self._obs[idx], self._next_obs[idx]
            action, rewards = self._action[idx], self._reward[idx]
        ones = np.ones((steps, batch), np.float32)
        return Transition(obs, action, rewards, next_obs, ones * 0.0, ones)

    @property
    def waiting(self) -> int:
        """Decisions still waiting for their outcome."""
        return len(self._pending)

    def _store_if_ready(self, step: _Step) -> None:
        if step.reward is None or step.next_obs is None:
            return
        i = self._pos
        self._obs[i], self._next_obs[i] = step.obs, step.next_obs
        self._action[i], self._reward[i] = step.action, step.reward
        self._pos = (i + 1) % len(self._reward)
        self.size = min(self.size + 1, len(self._reward))
        self.added += 1


class Learner:
    """Trains a decider's model in the background and counts what it learned."""

    def __init__(self, settings: LearningSettings, model: PolicyModel, seed: int):
        self.settings = settings
        self.experience = Experience(settings.replay_capacity, settings.pending_limit)
        self.decisions = 0
        self.updates = 0
        self.adopt(model)
        self.rounds = 0
        self.last_loss: float | None = None
        self._rng = np.random.default_rng(seed)
        self._trained_on = 0

    def adopt(self, model: PolicyModel) -> None:
        """Carry on from `model`'s checkpoint counts: a restarted coordinator
        neither explores afresh nor forgets how far the network has moved."""
        carried = model.meta.get("online", {})
        self.decisions = int(carried.get("decisions", 0))
        self.updates = int(carried.get("updates", 0))

    @property
    def epsilon(self) -> float:
        """The exploration rate the next decisions use."""
        return self.settings.epsilon(self.decisions)

    def remember(
        self, task_ids: list[str], obs: np.ndarray, actions: np.ndarray
    ) -> None:
        """Note a batch of DQN decisions."""
        self.decisions += len(task_ids)
        self.experience.remember(task_ids, obs, actions)

    def finished(self, record: TaskRecord) -> None:
        """Note a task's end."""
        self.experience.finished(record)

    def due(self) -> bool:
        """Whether a round would learn from anything new."""
        experience = self.experience
        return (
            self.settings.enabled
            and experience.size >= self.settings.learn_starts
            and experience.added > self._trained_on
        )

    def train_round(self, model: PolicyModel) -> PolicyModel:
        """Some gradient steps on replayed experience; returns the moved model.

        Runs on a worker thread; `model` itself is left as it was.
        """
        settings = self.settings
        self._trained_on = self.experience.added
        batches = self.experience.sample(
            self._rng, settings.updates_per_round, settings.batch_size
        )
        config = replace(
            model.config,
            learning_rate=settings.learning_rate,
            batch_size=settings.batch_size,
        )
        state, metrics = dqn.update_many(model.state, batches, config)
        self.last_loss = float(np.asarray(metrics.loss).mean())
        self.rounds += 1
        self.updates += settings.updates_per_round
        return model.learned(state, self.meta(model))

    def meta(self, model: PolicyModel) -> dict:
        """`model`'s checkpoint metadata with the online counts brought up to date."""
        return {
            **model.meta,
            "online": {
                "decisions": self.decisions,
                "updates": self.updates,
                "transitions": self.experience.added,
                "loss": self.last_loss,
            },
        }


class Decides(Protocol):
    """What the learning loop needs of the decider: its current model."""

    model: PolicyModel


async def run_learning(
    decider: Decides,
    learner: Learner,
    save: Callable[[PolicyModel], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Train and checkpoint on schedule until `stop` is set."""
    settings = learner.settings
    last_saved = time.monotonic()
    saved_version = decider.model.version
    logger.info(
        "online learning on: %d steps every %.1f s once %d transitions are in",
        settings.updates_per_round,
        settings.interval_s,
        settings.learn_starts,
    )
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), settings.interval_s)
            return
        except TimeoutError:
            pass

        try:
            if learner.due():
                # The decider reads `model` once per batch, so swapping it
                # here takes effect from the next batch on.
                decider.model = await asyncio.to_thread(
                    learner.train_round, decider.model
                )
                if learner.rounds == 1:
                    release_free_memory()  # the first round compiled the step
                logger.debug(
                    "learning round %d: loss %.4f over %d transitions",
                    learner.rounds,
                    learner.last_loss or 0.0,
                    learner.experience.size,
                )

            stale = decider.model.version != saved_version
            if stale and time.monotonic() - last_saved >= settings.checkpoint_s:
                await save(decider.model)
                last_saved = time.monotonic()
                saved_version = decider.model.version
        except Exception:
            logger.exception("online learning round failed; carrying on")
