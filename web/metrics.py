"""Prometheus metrics in the text exposition format, written by hand.

Counters (uploads, HTTP requests) are kept by this process since it started;
gauges and the latency histogram are computed at scrape time from the live
task view and the node directory, so they describe the store as it is.
"""

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator

from aiohttp import web

from bus.nodes import NodeDirectory
from bus.schemas import TASK_STATUSES, TIERS, TaskRecord
from bus.task_store import TaskQuery
from web.counters import Metrics
from web.errors import Handler
from web.keys import METRICS, NODES, STORE

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
UNPLACED = "none"
UNMATCHED_ROUTE = "unmatched"


def route_label(request: web.Request) -> str:
    """The route template that served a request: few values, never a raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Count every request by method, route template and final status."""
    metrics = request.app[METRICS]
    try:
        response = await handler(request)
    except web.HTTPException as error:
        # Redirects (and anything the error middleware passes on) end up here.
        metrics.record_request(request.method, route_label(request), error.status)
        raise
    metrics.record_request(request.method, route_label(request), response.status)
    return response


def escape(value: str) -> str:
    """A label value as the exposition format wants it quoted."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs: object) -> str:
    """`{name="value",...}`, or nothing without labels."""
    if not pairs:
        return ""
    inner = ",".join(f'{name}="{escape(str(value))}"' for name, value in pairs.items())
    return "{" + inner + "}"


def number(value: float) -> str:
    """A sample value: whole numbers without a point, infinity as +Inf."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def family(name: str, kind: str, help_text: str) -> Iterator[str]:
    """The HELP and TYPE lines that open a metric family."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"


def task_gauges(records: list[TaskRecord]) -> Iterator[str]:
    """Tasks in the store by status and tier (every pair, zeros included)."""
    counts = Counter((r.status, r.tier or UNPLACED) for r in records)
    yield from family(
        "offload_tasks", "gauge", "Tasks in the store by status and tier."
    )
    for status in TASK_STATUSES:
        for tier in (*TIERS, UNPLACED):
            sample = labels(status=status, tier=tier)
            yield f"offload_tasks{sample} {counts[(status, tier)]}"


def latency_histogram(records: list[TaskRecord]) -> Iterator[str]:
    """Scheduled-to-completed seconds of the completed tasks, per tier."""
    name = "offload_task_latency_seconds"
    yield from family(
        name, "histogram", "End-to-end latency of completed tasks (scheduled to done)."
    )
    for tier in TIERS:
        seconds = [
            r.total_ms / 1000
            for r in records
            if r.status == "completed" and r.tier == tier and r.total_ms is not None
        ]
        for bound in (*LATENCY_BUCKETS_S, math.inf):
            within = sum(1 for value in seconds if value <= bound)
            sample = labels(tier=tier, le=number(bound))
            yield f"{name}_bucket{sample} {within}"
        yield f"{name}_sum{labels(tier=tier)} {number(round(sum(seconds), 6))}"
        yield f"{name}_count{labels(tier=tier)} {len(seconds)}"


def node_gauges(directory: NodeDirectory) -> Iterator[str]:
    """Live nodes per tier."""
    live = Counter(node.tier for node in directory.live())
    yield from family("offload_nodes", "gauge", "Live nodes by tier.")
    for tier in TIERS:
        yield f"offload_nodes{labels(tier=tier)} {live[tier]}"


def counters(metrics: Metrics) -> Iterator[str]:
    """What this process counted since it started."""
    yield from family(
        "offload_upload_bytes_total", "counter", "Bytes of files uploaded."
    )
    yield f"offload_upload_bytes_total {metrics.upload_bytes}"
    yield from family("offload_uploads_total", "counter", "Files uploaded.")
    yield f"offload_uploads_total {metrics.uploaded_files}"
    yield from family(
        "offload_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route template and status.",
    )
    for (method, route, status), count in sorted(metrics.requests.items()):
        sample = labels(method=method, route=route, status=status)
        yield f"offload_http_requests_total{sample} {count}"


def exposition(
    records: list[TaskRecord], directory: NodeDirectory, metrics: Metrics
) -> str:
    """Every metric family as one text document."""
    lines: Iterable[str] = [
        *task_gauges(records),
        *latency_histogram(records),
        *node_gauges(directory),
        *counters(metrics),
    ]
    return "\n".join(lines) + "\n"


async def metrics_page(request: web.Request) -> web.Response:
    """GET /metrics: the service's metrics for Prometheus."""
    started = time.perf_counter()
    records = await request.app[STORE].list(TaskQuery())
    text = exposition(records, request.app[NODES], request.app[METRICS])
    logger.debug("metrics rendered in %.1f ms", (time.perf_counter() - started) * 1e3)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})
