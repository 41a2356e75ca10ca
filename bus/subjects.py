"""Every stream, subject, consumer and bucket name, in one place."""

TASKS_STREAM = "TASKS"
TASKS_SCHEDULED = "tasks.scheduled"

JOBS_STREAM = "JOBS"
JOBS_EDGE_PREFIX = "jobs.edge"
JOBS_CLOUD = "jobs.cloud"
CLOUD_CONSUMER = "cloud-workers"

EVENTS_STREAM = "EVENTS"
EVENTS_PREFIX = "events.task"
EVENTS_ALL = f"{EVENTS_PREFIX}.>"

COORDINATOR_TASKS_CONSUMER = "coordinator-tasks"
COORDINATOR_EVENTS_CONSUMER = "coordinator-events"

NODES_BUCKET = "nodes"
TASKS_BUCKET = "tasks"
FILES_BUCKET = "files"
POLICY_BUCKET = "policy"
LEADER_BUCKET = "leader"
LEADER_KEY = "coordinator"

REPLAN_CONSUMER_PREFIX = "replan"

EVENT_KINDS = ("started", "progress", "completed", "failed")


def edge_jobs(node_id: str) -> str:
    """The job subject of one edge node."""
    check_token(node_id, "node_id")
    return f"{JOBS_EDGE_PREFIX}.{node_id}"


def edge_consumer(node_id: str) -> str:
    """The durable consumer name an edge node pulls its jobs through."""
    check_token(node_id, "node_id")
    return f"edge-{node_id}"


def task_event(kind: str) -> str:
    """The subject a task event of this kind is published on."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"event kind must be one of {EVENT_KINDS}, not {kind!r}")
    return f"{EVENTS_PREFIX}.{kind}"


def input_object(task_id: str) -> str:
    """The object-store name of a task's uploaded file."""
    return f"{task_id}/input"


def output_object(task_id: str) -> str:
    """The object-store name of a task's result."""
    return f"{task_id}/output"


def check_token(value: str, field: str) -> str:
    """Reject values that cannot be one token of a subject or a KV key."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    if not value or len(value) > 64 or not set(value) <= allowed:
        raise ValueError(
            f"{field} must be 1-64 characters of letters, digits, '-' or '_', "
            f"not {value!r}"
        )
    return value
