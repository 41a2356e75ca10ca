"""NATS users, one per role, each allowed only the subjects its service uses.

`make run` makes a user for the coordinator, the web service, every node it
knows of and an administrator, with a fresh random password each, and writes
them into the server's configuration (`bus/nats_server.py`). What each may
do was read off the services' real traffic (a `-DV` trace of the whole
pipeline) and is an allow list: everything else is refused.

- **coordinator**: creates the streams and buckets; consumes `tasks.scheduled`
  and the task events through its durables; publishes jobs (`jobs.>`) and
  re-planned tasks; manages every consumer on JOBS (it deletes a dead edge
  node's and drains its queue); reads and writes the `tasks`, `leader` and
  `policy` buckets and reads `nodes`; removes objects (results no record
  kept) and jobs JetStream gave up on, whose advisories it subscribes to.
- **web**: creates the streams and buckets; publishes `tasks.scheduled`; reads
  and writes the `tasks` bucket and the `files` object store, reads `nodes`.
  It cannot read jobs or scheduled tasks: no consumer, pull or subscription
  on JOBS or TASKS.
- **edge node `<id>`**: pulls `jobs.edge.<id>` through its own durable
  `edge-<id>` only (created through the API subject that names its filter,
  so it cannot be pointed at another subject), acks only that consumer's
  messages, reads and writes the object store, heartbeats as `<id>` in
  `nodes`, publishes task events and reads one back by sequence, and reads
  (never writes) task records, to skip the jobs of cancelled tasks.
- **cloud node `<id>`**: the same on `jobs.cloud` through the shared durable
  `cloud-workers`, heartbeating as `<id>`.
- **admin**: everything, for operators and the `nats` command line.

Every user subscribes only below its own inbox prefix `_INBOX.<user>`, which
the services use for their replies (`bus.settings.user_inbox_prefix`): pulled
jobs arrive there, so no other user can read them.

Run `python -m bus.nats_auth env <node id or user>` to print the credentials
`make run` generated for one of them, ready for `eval` before starting a
service by hand; `python -m bus.nats_auth table` prints every role's rights.
"""

import argparse
import json
import logging
import secrets
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bus import subjects
from bus.settings import env_str, user_inbox_prefix
from bus.subjects import check_token

logger = logging.getLogger(__name__)

ROLES = ("coordinator", "web", "edge", "cloud", "admin")
PASSWORD_BYTES = 24
SERVER_CONFIG_NAME = "nats-server.conf"
"""The generated server configuration, in the data folder."""

API = "$JS.API"
KV_TASKS = f"KV_{subjects.TASKS_BUCKET}"
KV_NODES = f"KV_{subjects.NODES_BUCKET}"
KV_POLICY = f"KV_{subjects.POLICY_BUCKET}"
KV_LEADER = f"KV_{subjects.LEADER_BUCKET}"
OBJ_FILES = f"OBJ_{subjects.FILES_BUCKET}"

LAYOUT_STREAMS = (
    subjects.TASKS_STREAM,
    subjects.JOBS_STREAM,
    subjects.EVENTS_STREAM,
    KV_TASKS,
    KV_NODES,
    KV_POLICY,
    KV_LEADER,
    OBJ_FILES,
)
"""Every stream `bus.provision` creates (buckets are streams underneath)."""
UPDATED_STREAMS = (subjects.TASKS_STREAM, subjects.JOBS_STREAM, subjects.EVENTS_STREAM)
"""The streams `bus.provision` brings up to date when their settings change."""


@dataclass(frozen=True)
class Permissions:
    """Subjects one user may publish to and subscribe to; nothing else."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def to_config(self) -> dict[str, dict[str, list[str]]]:
        """The `permissions` block of a user in nats-server's configuration."""
        return {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }


def provisioning() -> list[str]:
    """Create every stream and bucket, update ours, and read their state."""
    return [
        f"{API}.INFO",
        *(f"{API}.STREAM.CREATE.{stream}" for stream in LAYOUT_STREAMS),
        *(f"{API}.STREAM.UPDATE.{stream}" for stream in UPDATED_STREAMS),
        *(f"{API}.STREAM.INFO.{stream}" for stream in LAYOUT_STREAMS),
    ]


def watching(stream: str) -> list[str]:
    """Follow a stream through ordered consumers (KV watches, chunk indexes)."""
    return [
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.>",
        f"{API}.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def reading(stream: str) -> list[str]:
    """Read single messages of a stream (KV gets, object chunks)."""
    return [
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.STREAM.MSG.GET.{stream}",
    ]


def durable_consumer(stream: str, durable: str, filter_subject: str) -> list[str]:
    """Bind, pull and ack through one durable consumer, and nothing else.

    The consumer may only be created through the API subject that names its
    filter: the server refuses a request whose configuration filters on
    anything else, so the holder cannot re-point it at another subject.
    """
    return [
        f"{API}.CONSUMER.INFO.{stream}.{durable}",
        f"{API}.CONSUMER.CREATE.{stream}.{durable}.{filter_subject}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def managing_consumers(stream: str) -> list[str]:
    """Create, delete, inspect, pull from and ack any consumer on a stream."""
    return [
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.DELETE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.>",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


def object_store(bucket: str) -> list[str]:
    """Store, read and remove objects of one object-store bucket.

    A purge names its subject in the request body, so the right to purge
    chunks covers every object of the bucket.
    """
    stream = f"OBJ_{bucket}"
    return [
        f"$O.{bucket}.C.>",
        f"$O.{bucket}.M.>",
        *reading(stream),
        f"{API}.STREAM.PURGE.{stream}",
    ]


def coordinator_permissions(user: str) -> Permissions:
    """Places tasks, dispatches and re-plans jobs, records outcomes, leads."""
    publish = [
        *provisioning(),
        *managing_consumers(subjects.TASKS_STREAM),
        *managing_consumers(subjects.EVENTS_STREAM),
        *managing_consumers(subjects.JOBS_STREAM),
        f"{subjects.JOBS_EDGE_PREFIX}.*",
        subjects.JOBS_CLOUD,
        subjects.TASKS_SCHEDULED,
        *reading(KV_TASKS),
        *watching(KV_TASKS),
        f"$KV.{subjects.TASKS_BUCKET}.>",
        *reading(KV_NODES),
        *watching(KV_NODES),
        *reading(KV_LEADER),
        f"$KV.{subjects.LEADER_BUCKET}.>",
        *reading(KV_POLICY),
        f"$KV.{subjects.POLICY_BUCKET}.>",
        # Removes results no record points at, and jobs JetStream gave up on.
        *object_store(subjects.FILES_BUCKET),
        f"{API}.STREAM.MSG.DELETE.{subjects.JOBS_STREAM}",
    ]
    subscribe = (
        f"{user_inbox_prefix(user)}.>",
        subjects.max_deliveries_advisory(subjects.JOBS_STREAM),
    )
    return Permissions(_unique(publish), subscribe)


def web_permissions(user: str) -> Permissions:
    """Uploads, schedules, serves records and files; never touches jobs."""
    publish = [
        *provisioning(),
        subjects.TASKS_SCHEDULED,
        *reading(KV_TASKS),
        *watching(KV_TASKS),
        f"$KV.{subjects.TASKS_BUCKET}.>",
        *reading(KV_NODES),
        *watching(KV_NODES),
        *object_store(subjects.FILES_BUCKET),
        *watching(OBJ_FILES),
    ]
    return Permissions(_unique(publish), (f"{user_inbox_prefix(user)}.>",))


def node_permissions(tier: str, node_id: str, user: str) -> Permissions:
    """Pulls its own jobs, moves files, heartbeats as itself, reports events."""
    check_token(node_id, "node_id")
    if tier == "edge":
        subject = subjects.edge_jobs(node_id)
        durable = subjects.edge_consumer(node_id)
    elif tier == "cloud":
        subject, durable = subjects.JOBS_CLOUD, subjects.CLOUD_CONSUMER
    else:
        raise ValueError(f"tier must be edge or cloud, not {tier!r}")
    publish = [
        *durable_consumer(subjects.JOBS_STREAM, durable, subject),
        f"{API}.STREAM.INFO.{subjects.JOBS_STREAM}",
        f"{API}.STREAM.INFO.{subjects.EVENTS_STREAM}",
        f"{API}.STREAM.INFO.{KV_NODES}",
        f"$KV.{subjects.NODES_BUCKET}.{node_id}",
        f"{subjects.EVENTS_PREFIX}.*",
        # Read back one stored event: was a duplicate final event our own?
        f"{API}.STREAM.MSG.GET.{subjects.EVENTS_STREAM}",
        # Read (never write or watch) a job's record: skip cancelled work.
        *reading(KV_TASKS),
        *object_store(subjects.FILES_BUCKET),
    ]
    return Permissions(_unique(publish), (f"{user_inbox_prefix(user)}.>",))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def node_user_name(node_id: str) -> str:
    """The NATS user of a node: `node-<id>`, apart from the service users."""
    return f"node-{check_token(node_id, 'node_id')}"


@dataclass(frozen=True)
class NatsUser:
    """One user of the server: its role, its password and what it may do."""

    name: str
    role: str
    password: str = field(repr=False)
    node_id: str | None = None
    """The node this user is, for the edge and cloud roles."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")
        if (self.node_id is None) != (self.role in ("coordinator", "web", "admin")):
            raise ValueError(
                "edge and cloud users need a node id, and no other role has one"
            )

    def permissions(self) -> Permissions | None:
        """This user's rights; None means everything (the admin)."""
        if self.role == "coordinator":
            return coordinator_permissions(self.name)
        if self.role == "web":
            return web_permissions(self.name)
        if self.role in ("edge", "cloud"):
            assert self.node_id is not None
            return node_permissions(self.role, self.node_id, self.name)
        return None

    def to_config(self) -> dict[str, object]:
        """This user's entry in the server's `authorization.users` list."""
        entry: dict[str, object] = {"user": self.name, "password": self.password}
        permissions = self.permissions()
        if permissions is not None:
            entry["permissions"] = permissions.to_config()
        return entry

    def env(self) -> dict[str, str]:
        """The environment that makes a service log in as this user."""
        return {"NATS_USER": self.name, "NATS_PASSWORD": self.password}


def new_password() -> str:
    """A random password: 24 bytes, URL-safe base64 (no quoting needed)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def generate_users(
    edge_nodes: Sequence[str], cloud_nodes: Sequence[str]
) -> list[NatsUser]:
    """Coordinator, web, admin and one user per node, each with a new password."""
    everyone = [*edge_nodes, *cloud_nodes]
    duplicates = sorted({node for node in everyone if everyone.count(node) > 1})
    if duplicates:
        raise ValueError(f"node ids must be unique across tiers: {duplicates}")
    users = [
        NatsUser("coordinator", "coordinator", new_password()),
        NatsUser("web", "web", new_password()),
        NatsUser("admin", "admin", new_password()),
    ]
    for tier, nodes in (("edge", edge_nodes), ("cloud", cloud_nodes)):
        for node_id in nodes:
            users.append(
                NatsUser(node_user_name(node_id), tier, new_password(), node_id)
            )
    return users


def user_for(
    users: Sequence[NatsUser], role: str, node_id: str | None = None
) -> NatsUser:
    """The user of a role (and node); KeyError when there is none."""
    for user in users:
        if user.role == role and user.node_id == node_id:
            return user
    raise KeyError(f"no NATS user for {role} {node_id or ''}".strip())


def authorization_config(users: Sequence[NatsUser]) -> dict[str, object]:
    """The server's `authorization` block for these users."""
    return {"users": [user.to_config() for user in users]}


def read_users(config_file: Path) -> list[dict[str, object]]:
    """The user entries of a generated server configuration."""
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{config_file} does not exist: start `make run` first (with "
            "NATS_AUTH on) or point --config at the server's configuration"
        ) from None
    return list(config.get("authorization", {}).get("users", []))


def credentials_env(config_file: Path, name: str) -> dict[str, str]:
    """NATS_USER and NATS_PASSWORD of a user, by user name or node id."""
    entries = {str(entry["user"]): entry for entry in read_users(config_file)}
    for candidate in (name, f"node-{name}"):
        if candidate in entries:
            entry = entries[candidate]
            return {"NATS_USER": candidate, "NATS_PASSWORD": str(entry["password"])}
    known = ", ".join(sorted(entries)) or "none"
    raise KeyError(f"no user {name!r} in {config_file} (users: {known})")


def permission_table(users: Sequence[NatsUser]) -> str:
    """Every user's rights as Markdown, for the documentation."""
    lines = []
    for user in users:
        permissions = user.permissions()
        lines.append(f"### {user.role}: user `{user.name}`\n")
        if permissions is None:
            lines.append("publish and subscribe: `>` (everything)\n")
            continue
        lines.append("publish: " + ", ".join(f"`{s}`" for s in permissions.publish))
        lines.append("")
        lines.append("subscribe: " + ", ".join(f"`{s}`" for s in permissions.subscribe))
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`env NAME`: print export lines for a user; `table`: print every role's rights."""
    parser = argparse.ArgumentParser(prog="python -m bus.nats_auth")
    commands = parser.add_subparsers(dest="command", required=True)
    env_command = commands.add_parser("env", help="credentials of a node or user")
    env_command.add_argument("name", help="a node id (edge-2) or a user (web)")
    env_command.add_argument(
        "--config",
        type=Path,
        default=Path(env_str("DATA_DIR", "data")) / SERVER_CONFIG_NAME,
        help="the generated server configuration (default: $DATA_DIR/%(default)s)",
    )
    commands.add_parser("table", help="every role's rights, as Markdown")
    args = parser.parse_args(argv)

    if args.command == "table":
        print(permission_table(_sample_users()))
        return 0
    try:
        env = credentials_env(args.config, args.name)
    except (FileNotFoundError, KeyError) as error:
        print(str(error).strip("'\""), file=sys.stderr)
        return 1
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _sample_users() -> list[NatsUser]:
    """One user of each role, without passwords, to print the table."""
    return [
        NatsUser("coordinator", "coordinator", ""),
        NatsUser("web", "web", ""),
        NatsUser(node_user_name("edge-1"), "edge", "", "edge-1"),
        NatsUser(node_user_name("cloud-1"), "cloud", "", "cloud-1"),
        NatsUser("admin", "admin", ""),
    ]


if __name__ == "__main__":
    sys.exit(main())
