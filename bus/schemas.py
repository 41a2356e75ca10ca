"""Message and record schemas: dataclasses with a version, checked at the edge.

`from_wire` ignores fields it does not know (so newer writers can add some) and
raises MalformedMessage for a missing field, a wrong type or a newer major
version than this code understands.
"""

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Self

from bus.codec import pack, unpack
from bus.errors import MalformedMessage

SCHEMA_VERSION = 1

TASK_STATUSES = (
    "uploaded",
    "scheduled",
    "placed",
    "running",
    "completed",
    "failed",
    "cancelled",
)
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
TIERS = ("edge", "cloud")


class Wire:
    """Mixin: msgpack round trip with validation for a flat-ish dataclass."""

    v: int

    def to_wire(self) -> dict[str, Any]:
        """This object as a plain map ready for msgpack (nested maps shared)."""
        return {name: getattr(self, name) for name, _, _ in _field_specs(type(self))}

    def encode(self) -> bytes:
        """This object as msgpack bytes."""
        return pack(self.to_wire())

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> Self:
        """Build from a decoded map, validating every known field."""
        version = payload.get("v")
        if not isinstance(version, int) or version < 1:
            raise MalformedMessage(f"{cls.__name__}: missing schema version 'v'")
        if version > SCHEMA_VERSION:
            raise MalformedMessage(
                f"{cls.__name__}: schema version {version} is newer than "
                f"{SCHEMA_VERSION}"
            )
        values: dict[str, Any] = {}
        for name, hint, required in _field_specs(cls):
            if name not in payload:
                if required:
                    raise MalformedMessage(f"{cls.__name__}: missing field {name!r}")
                continue
            value = payload[name]
            if not _matches(value, hint):
                raise MalformedMessage(
                    f"{cls.__name__}: field {name!r} has the wrong type "
                    f"({type(value).__name__})"
                )
            values[name] = value
        return cls(**values)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Build from msgpack bytes, or raise MalformedMessage."""
        return cls.from_wire(unpack(data))


@functools.cache
def _field_specs(cls: type) -> tuple[tuple[str, tuple[type, ...], bool], ...]:
    # Resolving type hints is slow; every message of a class shares the answer.
    hints = typing.get_type_hints(cls)
    return tuple(
        (
            item.name,
            _accepted_types(hints[item.name]),
            item.default is dataclasses.MISSING
            and item.default_factory is dataclasses.MISSING,
        )
        for item in dataclasses.fields(cls)
    )


def _accepted_types(hint: Any) -> tuple[type, ...]:
    """The runtime types a decoded value may have for a field's type hint."""
    if hint is Any:
        return (object,)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _accepted_types(arg))
    if hint is type(None):
        return (type(None),)
    if hint is float:
        return (int, float)
    if origin in (list, tuple) or hint in (list, tuple):
        return (list, tuple)
    return (origin or hint,)


def _matches(value: Any, accepted: tuple[type, ...]) -> bool:
    # Python's bool is an int: a True where a count belongs is malformed.
    if isinstance(value, bool):
        return bool in accepted or object in accepted
    return isinstance(value, accepted)


@dataclass
class TaskRecord(Wire):
    """Everything known about one task; lives in the task store."""

    id: str
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "uploaded"
    tier: str | None = None
    node_id: str | None = None
    attempts: int = 0
    error: str | None = None
    uploaded_at: float | None = None
    scheduled_at: float | None = None
    picked_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    queue_wait_ms: float | None = None
    transfer_ms: float | None = None
    compute_ms: float | None = None
    total_ms: float | None = None
    progress: float | None = None
    explanation: dict[str, Any] | None = None
    output_name: str | None = None
    output_size: int | None = None
    output_type: str | None = None
    output_object: str | None = None
    """The object-store name of the result that counted (the run whose
    completion was recorded); None on records older than per-run names."""
    dead_letter: dict[str, Any] | None = None
    """Set when the system gave up on the task: why, after how many tries,
    where it last ran, and when (see `coordinator/dead_letters.py`)."""
    v: int = SCHEMA_VERSION

    def copy(self) -> "TaskRecord":
        """An independent copy (the nested maps are copied too)."""
        explanation = dict(self.explanation) if self.explanation else None
        dead_letter = dict(self.dead_letter) if self.dead_letter else None
        return dataclasses.replace(
            self,
            params=dict(self.params),
            explanation=explanation,
            dead_letter=dead_letter,
        )

    @property
    def is_final(self) -> bool:
        """Whether the task has reached an end state."""
        return self.status in FINAL_STATUSES

    def public(self) -> dict[str, Any]:
        """The record as the HTTP API shows it, with the prototype's aliases."""
        body = self.to_wire()
        body.pop("v")
        # Where the result is stored is the service's business, not the API's.
        body.pop("output_object")
        body["assigned_to"] = self.tier
        body["computed_at"] = self.tier
        body["operation"] = {"name": self.operation, "params": self.params}
        body.pop("params")
        return body


@dataclass
class ScheduledTask(Wire):
    """Published on tasks.scheduled when a person schedules an uploaded file."""

    task_id: str
    scheduled_at: float
    v: int = SCHEMA_VERSION


@dataclass
class Job(Wire):
    """One unit of work for a node, published on jobs.edge.<id> or jobs.cloud."""

    task_id: str
    attempt: int
    kind: str
    operation: str
    params: dict[str, Any]
    input_object: str
    output_object: str
    filename: str
    content_type: str
    size: int
    tier: str
    node_id: str | None
    dispatched_at: float
    estimated_work_s: float = 0.0
    v: int = SCHEMA_VERSION


@dataclass
class TaskEvent(Wire):
    """What happened to a task on a node, published on events.task.<kind>."""

    kind: str
    task_id: str
    attempt: int
    node_id: str
    tier: str
    at: float
    progress: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    fetch_ms: float | None = None
    compute_ms: float | None = None
    store_ms: float | None = None
    output_name: str | None = None
    output_size: int | None = None
    output_type: str | None = None
    output_object: str | None = None
    """Where a completed run stored its result (`subjects.run_output_object`)."""
    delivery: int | None = None
    """Which delivery of the job this run was (1 for the first)."""
    error: str | None = None
    dead_letter: dict[str, Any] | None = None
    """On a `failed` event: the node gave up on the task after too many tries."""
    v: int = SCHEMA_VERSION


@dataclass
class NodeStatus(Wire):
    """A node's heartbeat, kept under its id in the nodes bucket."""

    node_id: str
    tier: str
    speed: float
    backlog_s: float
    capacity: int
    running: int
    queued: int
    completed: int
    failed: int
    started_at: float
    heartbeat_at: float
    version: str = ""
    v: int = SCHEMA_VERSION

    def public(self) -> dict[str, Any]:
        """The heartbeat as the HTTP API shows it."""
        body = self.to_wire()
        body.pop("v")
        return body
