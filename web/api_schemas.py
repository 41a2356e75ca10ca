"""JSON Schemas of what the API sends and receives (OpenAPI components)."""

from typing import Any

from bus.schemas import TASK_STATUSES, TIERS
from web.aggregates import KINDS
from web.api_doc import Schema, nullable, ref

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
COUNT: Schema = {"type": "integer", "minimum": 0}
EPOCH_S: Schema = nullable({"type": "number", "description": "epoch seconds"})
MILLISECONDS: Schema = nullable({"type": "number", "minimum": 0})
TIER: Schema = {"enum": [*TIERS, None]}


def strict(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties, all required but `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def counts(names: tuple[str, ...] = ()) -> Schema:
    """A map of names to counts, with `names` always present."""
    return {
        "type": "object",
        "properties": dict.fromkeys(names, COUNT),
        "required": list(names),
        "additionalProperties": COUNT,
    }


def per_tier(schema: Schema) -> Schema:
    """One value per tier."""
    return strict(dict.fromkeys(TIERS, schema))


TASK = strict(
    {
        "id": STRING,
        "filename": STRING,
        "content_type": STRING,
        "kind": {"enum": list(KINDS)},
        "size": COUNT,
        "sha256": STRING,
        "operation": strict({"name": STRING, "params": {"type": "object"}}),
        "status": {"enum": list(TASK_STATUSES)},
        "tier": TIER,
        "node_id": nullable(STRING),
        "attempts": COUNT,
        "error": nullable(STRING),
        "uploaded_at": EPOCH_S,
        "scheduled_at": EPOCH_S,
        "picked_at": EPOCH_S,
        "started_at": EPOCH_S,
        "completed_at": EPOCH_S,
        "queue_wait_ms": MILLISECONDS,
        "transfer_ms": MILLISECONDS,
        "compute_ms": MILLISECONDS,
        "total_ms": MILLISECONDS,
        "progress": nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "explanation": nullable({"type": "object"}),
        "output_name": nullable(STRING),
        "output_size": nullable(COUNT),
        "output_type": nullable(STRING),
        "dead_letter": nullable(
            {
                "type": "object",
                "description": "Why the system gave up on the task: `cause` "
                "(deliveries, replans or max_deliveries), `tries`, `attempt`, "
                "`node_id` and `at` (epoch seconds).",
            }
        ),
        "assigned_to": TIER,
        "computed_at": TIER,
    }
)

NODE = strict(
    {
        "node_id": STRING,
        "tier": {"enum": list(TIERS)},
        "speed": NUMBER,
        "backlog_s": NUMBER,
        "capacity": INTEGER,
        "running": INTEGER,
        "queued": INTEGER,
        "completed": INTEGER,
        "failed": INTEGER,
        "started_at": NUMBER,
        "heartbeat_at": NUMBER,
        "version": STRING,
        "age_s": NUMBER,
        "heartbeat_age_s": NUMBER,
    }
)

LATENCY = strict(
    {
        "count": COUNT,
        "mean": nullable(NUMBER),
        "p50": nullable(NUMBER),
        "p95": nullable(NUMBER),
    }
)

SIZE_TIME = strict(
    {
        "id": STRING,
        "filename": STRING,
        "size": COUNT,
        "total_ms": MILLISECONDS,
        "tier": TIER,
        "kind": STRING,
    }
)

STATS = strict(
    {
        "total": COUNT,
        "by_status": counts(TASK_STATUSES),
        "by_tier": counts(TIERS),
        "by_kind": counts(KINDS),
        "latency_ms": per_tier(ref("Latency")),
        "bucket_s": {"type": "integer", "minimum": 1},
        "timeline": {
            "type": "array",
            "items": strict(
                {
                    "t": NUMBER,
                    "completed": per_tier(COUNT),
                    "mean_total_ms": per_tier(nullable(NUMBER)),
                }
            ),
        },
        "size_vs_time": {"type": "array", "items": ref("SizeTime")},
    }
)

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {"error": STRING, "field": nullable(STRING)},
        "required": ["error"],
        "additionalProperties": True,
    },
    "Task": TASK,
    "TaskPage": strict(
        {
            "tasks": {"type": "array", "items": ref("Task")},
            "next_cursor": nullable(STRING),
            "total": COUNT,
        }
    ),
    "TaskArray": {"type": "array", "items": ref("Task")},
    "DeadLetters": strict(
        {"tasks": {"type": "array", "items": ref("Task")}, "total": COUNT}
    ),
    "Uploaded": strict(
        {"tasks": {"type": "array", "items": ref("Task")}, "scheduled": COUNT}
    ),
    "Scheduled": strict(
        {"scheduled": COUNT, "task_ids": {"type": "array", "items": STRING}}
    ),
    "Deleted": strict({"deleted": STRING}),
    "DeletedCount": strict({"deleted": COUNT}),
    "Placement": strict(
        {
            "id": STRING,
            "filename": STRING,
            "assigned_to": TIER,
            "computed_at": TIER,
            "status": {"enum": list(TASK_STATUSES)},
            "node_id": nullable(STRING),
        }
    ),
    "PlacementArray": {"type": "array", "items": ref("Placement")},
    "Node": NODE,
    "NodeList": strict({"nodes": {"type": "array", "items": ref("Node")}}),
    "Operations": {
        "type": "object",
        "properties": {
            "image": {"type": "object"},
            "video": {"type": "object"},
            "supported_types": {"type": "object", "additionalProperties": STRING},
        },
        "required": ["image", "video", "supported_types"],
    },
    "Latency": LATENCY,
    "SizeTime": SIZE_TIME,
    "SizeTimeArray": {"type": "array", "items": ref("SizeTime")},
    "Stats": STATS,
    "TierCounts": counts(TIERS),
    "FileTypes": strict(
        {
            "by_extension": counts(),
            "by_content_type": counts(),
            "by_kind": counts(KINDS),
        }
    ),
    "Health": strict({"ok": {"type": "boolean"}}),
    "Ready": strict(
        {
            "ok": {"type": "boolean"},
            "nats_connected": {"type": "boolean"},
            "streams_ready": {"type": "boolean"},
            "error": STRING,
        },
        optional=("error",),
    ),
    "OpenApi": {"type": "object", "required": ["openapi", "paths"]},
}
