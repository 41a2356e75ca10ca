"""Start a NATS cluster on loopback: N JetStream servers plus optional leaf servers.

Each server gets its own client, route, leaf-node and monitoring ports and its
own data folder, so a test or a benchmark can run a real replicated JetStream
on one machine, kill one server and watch the rest carry on.

Leaf servers stand for edge sites: they dial the hub servers' leaf-node ports
and run no JetStream of their own. nats-server keeps plain JetStream API
traffic off a leaf connection, so the hubs run in the JetStream domain `hub`
and each leaf maps its clients' `$JS.API.>`, `$KV.>` and `$OBJ.>` subjects
into that domain (`default_js_domain`); stream subjects and object-store
chunks cross as they are. A service needs nothing but the leaf's URL.
"""

import asyncio
import json
import logging
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bus.nats_server import (
    EmbeddedServer,
    child_process_options,
    free_port,
    server_binary,
    start_server,
    wait_for_jetstream,
    wait_until_listening,
)

logger = logging.getLogger(__name__)

CLUSTER_NAME = "offload"
JETSTREAM_DOMAIN = "hub"
"""The hub's JetStream domain; leaf servers send their clients' JetStream there."""


@dataclass(frozen=True)
class HubPorts:
    """The ports one hub server listens on, all on 127.0.0.1."""

    client: int
    route: int
    leafnode: int
    monitor: int

    @classmethod
    def pick(cls) -> "HubPorts":
        """Four ports that are free right now."""
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class ClusterServer:
    """One running server of the cluster (a hub or a leaf) and how to reach it."""

    name: str
    config_file: Path
    server: EmbeddedServer
    monitor_port: int

    @property
    def url(self) -> str:
        """Client URL of this server."""
        return self.server.url

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.server.process.poll() is None

    def monitor(self, endpoint: str, timeout_s: float = 5.0) -> dict:
        """A monitoring endpoint's JSON, e.g. `varz`, `jsz`, `leafz`, `routez`."""
        url = f"http://127.0.0.1:{self.monitor_port}/{endpoint}"
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            return json.load(reply)


@dataclass
class LoopbackCluster:
    """Hub servers clustered by routes, and leaf servers dialling into them."""

    root: Path
    hubs: list[ClusterServer]
    leaves: list[ClusterServer] = field(default_factory=list)

    @property
    def hub_urls(self) -> str:
        """Every hub's client URL, comma-separated, as NATS_URL takes them."""
        return ",".join(hub.url for hub in self.hubs)

    def hub(self, name: str) -> ClusterServer:
        """The hub server of this name."""
        for hub in self.hubs:
            if hub.name == name:
                return hub
        raise KeyError(f"no hub server named {name!r}")

    def kill(self, name: str) -> None:
        """Kill one hub server at once, as a crash would (its data stays)."""
        logger.info("killing nats-server %s", name)
        self.hub(name).server.kill()

    def stop(self) -> None:
        """Stop the leaves, then the hubs (each flushes its JetStream)."""
        for server in [*self.leaves, *self.hubs]:
            server.server.stop()


def hub_config(name: str, ports: HubPorts, peers: list[HubPorts]) -> str:
    """The configuration of one hub server: JetStream, routes to its peers.

    The data folder is not in the file: the shared starter passes it as
    --store_dir, and nats-server refuses a folder given twice. A lone server
    gets no cluster block (clustered JetStream needs at least one route).
    """
    lines = [
        f"server_name: {name}",
        f"listen: 127.0.0.1:{ports.client}",
        f"http: 127.0.0.1:{ports.monitor}",
        f"jetstream {{ domain: {JETSTREAM_DOMAIN} }}",
        f"leafnodes {{ listen: 127.0.0.1:{ports.leafnode} }}",
    ]
    if peers:
        routes = ", ".join(f"nats-route://127.0.0.1:{peer.route}" for peer in peers)
        lines += [
            "cluster {",
            f"  name: {CLUSTER_NAME}",
            f"  listen: 127.0.0.1:{ports.route}",
            f"  routes: [{routes}]",
            "}",
        ]
    return "\n".join(lines) + "\n"


def leaf_config(name: str, port: int, monitor_port: int, hubs: list[HubPorts]) -> str:
    """The configuration of one leaf server: no JetStream, one remote to the hubs.

    The remote names every hub so the leaf reconnects to another one when
    the hub it uses goes away.
    """
    urls = ", ".join(f"nats-leaf://127.0.0.1:{hub.leafnode}" for hub in hubs)
    return (
        f"server_name: {name}\n"
        f"listen: 127.0.0.1:{port}\n"
        f"http: 127.0.0.1:{monitor_port}\n"
        f'default_js_domain: {{ "$G": "{JETSTREAM_DOMAIN}" }}\n'
        f"leafnodes {{ remotes: [ {{ urls: [{urls}] }} ] }}\n"
    )


def start_cluster(root: Path, size: int = 3, leaves: int = 0) -> LoopbackCluster:
    """Start `size` clustered JetStream servers and `leaves` leaf servers under `root`.

    Returns once every server listens for clients; JetStream elects its meta
    leader a moment later, so wait with `wait_for_cluster` before provisioning.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    if leaves < 0:
        raise ValueError(f"leaves must be 0 or more, not {leaves}")
    root.mkdir(parents=True, exist_ok=True)
    ports = [HubPorts.pick() for _ in range(size)]
    cluster = LoopbackCluster(root=root, hubs=[])
    try:
        for index, own in enumerate(ports):
            name = f"n{index + 1}"
            peers = [other for other in ports if other is not own]
            cluster.hubs.append(_start_hub(root, name, own, peers))
        for index in range(leaves):
            cluster.leaves.append(_start_leaf(root, f"leaf{index + 1}", ports))
    except BaseException:
        cluster.stop()
        raise
    logger.info(
        "NATS cluster of %d servers (%s) with %d leaf servers under %s",
        size,
        cluster.hub_urls,
        leaves,
        root,
    )
    return cluster


async def wait_for_cluster(cluster: LoopbackCluster, timeout_s: float = 30.0) -> None:
    """Wait until every running hub knows the meta leader and all its peers are
    current, then until JetStream answers on every hub and through every leaf.

    JetStream answers before the last peer has joined, and a stream with three
    replicas asked for then finds "no suitable peers for placement".
    """
    deadline = time.monotonic() + timeout_s
    running = [hub for hub in cluster.hubs if hub.running]
    while not await asyncio.to_thread(_meta_group_complete, running):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the JetStream meta group of {len(running)} servers did not "
                f"form in {timeout_s}s"
            )
        await asyncio.sleep(0.1)
    for server in [*running, *cluster.leaves]:
        if server.running:
            await wait_for_jetstream(server.url, timeout_s)


def _meta_group_complete(hubs: list[ClusterServer]) -> bool:
    if len(hubs) < 2:
        return True  # a lone server has no meta group to form
    for hub in hubs:
        try:
            meta = hub.monitor("jsz").get("meta_cluster") or {}
        except OSError:
            return False
        peers = meta.get("replicas") or []
        if not meta.get("leader"):
            return False
        if meta["leader"] == hub.name and not (
            len(peers) + 1 >= len(hubs) and all(p.get("current") for p in peers)
        ):
            return False
    return True


def _start_hub(
    root: Path, name: str, ports: HubPorts, peers: list[HubPorts]
) -> ClusterServer:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    store_dir = folder / "jetstream"
    config_file = folder / "nats.conf"
    config_file.write_text(hub_config(name, ports, peers))
    server = _launch_hub(config_file, ports.client, store_dir)
    return ClusterServer(name, config_file, server, ports.monitor)


def _launch_hub(config_file: Path, port: int, store_dir: Path) -> EmbeddedServer:
    # The shared starter adds --jetstream, --store_dir, --addr and --port;
    # they agree with the file, which brings the rest (name, routes, leaves).
    return start_server(
        store_dir,
        port=port,
        log_file=config_file.parent / "nats.log",
        extra_args=["--config", str(config_file)],
    )


def _start_leaf(root: Path, name: str, hubs: list[HubPorts]) -> ClusterServer:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    port, monitor_port = free_port(), free_port()
    config_file = folder / "nats.conf"
    config_file.write_text(leaf_config(name, port, monitor_port, hubs))

    # Not through start_server: that one always turns JetStream on, and a
    # leaf with its own JetStream would answer `$JS.API` itself.
    log = open(folder / "nats.log", "ab")
    process = subprocess.Popen(
        [server_binary(), "--config", str(config_file)],
        stdout=log,
        stderr=log,
        **child_process_options(),
    )
    log.close()
    server = EmbeddedServer(process, port, folder)
    wait_until_listening(server)
    logger.info("leaf nats-server %s listening on %s", name, server.url)
    return ClusterServer(name, config_file, server, monitor_port)
