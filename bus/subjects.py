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

EVENT_KINDS = ("started", "progress", "retrying", "completed", "failed")
"""`retrying`: a run hit trouble with the bus and its job was handed back."""

MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
"""Prefix of JetStream's word that a consumer gave up on a message
(`<prefix>.<stream>.<consumer>`)."""


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
    """Where results were stored before each run had its own name.

    Records that carry no `output_object` of their own point here.
    """
    return f"{task_id}/output"


def run_output_object(task_id: str, attempt: int, run: str) -> str:
    """The object-store name of one run's result: task, attempt and run.

    `run` must be unique to the run (the node uses the delivery number and a
    random token: a server restarted after a crash may deliver a job again
    under a number it had already used). No two runs share a name, so a run
    can never overwrite (or purge the chunks of) a result a record points at.
    """
    check_token(run, "run")
    return f"{task_id}/output/{attempt}-{run}"


def output_prefix(task_id: str) -> str:
    """What every result name of a task starts with."""
    return f"{task_id}/output"


def final_event_id(task_id: str, attempt: int) -> str:
    """The message id of an attempt's one final event (completed or failed).

    JetStream drops a second final event of the same attempt inside its
    duplicate window, so a job run twice reports its outcome once.
    """
    return f"{task_id}:{attempt}:final"


def max_deliveries_advisory(stream: str) -> str:
    """The subject of every max-deliveries advisory of a stream's consumers."""
    return f"{MAX_DELIVERIES_ADVISORY}.{stream}.*"


def check_token(value: str, field: str) -> str:
    """Reject values that cannot be one token of a subject or a KV key."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    if not value or len(value) > 64 or not set(value) <= allowed:
        raise ValueError(
            f"{field} must be 1-64 characters of letters, digits, '-' or '_', "
            f"not {value!r}"
        )
    return value
