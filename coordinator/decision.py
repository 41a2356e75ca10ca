"""A placement with its explanation, and the earliest-finish rule that needs no JAX.

Kept apart from `coordinator.decider` so that the coordinator can place by
earliest finish while JAX is still importing and the DQN is still loading.
"""

import time
from dataclasses import dataclass

from policy.earliest_finish import earliest_finish
from policy.types import NodeView, Placement, TaskEstimate


@dataclass(frozen=True)
class Decision:
    """One task's placement and what explains it."""

    placement: Placement
    explanation: dict


def explained(
    policy: str, placements: list[Placement], extras: list[dict], began: float
) -> list[Decision]:
    """Decisions with the common explanation fields plus each task's extras."""
    decision_ms = (time.perf_counter() - began) * 1000
    return [
        Decision(
            placement,
            {
                "policy": policy,
                "reason": placement.reason,
                "planned_finish_s": round(placement.planned_finish_s, 4),
                "estimated_work_s": round(placement.estimated_work_s, 4),
                "decision_ms": round(decision_ms, 3),
                "batch_size": len(placements),
                **extra,
            },
        )
        for placement, extra in zip(placements, extras, strict=True)
    ]


def greedy(
    tasks: list[TaskEstimate], edge: list[NodeView], cloud: NodeView | None
) -> list[Decision]:
    """Every task where it is expected to finish first."""
    began = time.perf_counter()
    placements = earliest_finish(tasks, edge, cloud)
    return explained("greedy", placements, [{} for _ in tasks], began)
