"""Schemathesis fuzzes every documented operation of the running service.

The app runs in process on a free port against the session's nats-server;
schemathesis (synchronous, `requests`) runs in a thread so the event loop
keeps serving. Every answer must be documented (status, content type,
headers, body schema) and none may be a 5xx. Operations that take a task id
are fuzzed twice: with generated ids, and with the id of a real task.

The run is bounded: a few examples per operation and mode, no shrinking.
"""

import asyncio
import time
from collections.abc import Callable

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.helpers import stored_task
from web.app import create_app
from web.keys import OPENAPI
from web.settings import WebSettings

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
WITH_REAL_ID = 12
BUDGET_S = 60.0
# A stream that stays open is no fit for request-response fuzzing; it has
# tests of its own (test_events.py).
SKIPPED = {"GET /api/v1/events"}
STATUS_FOR = {"retry": "failed", "cancel": "placed", "schedule": "uploaded"}
# Three object-store chunks: byte ranges seek past the first.
CONTENT = bytes(range(256)) * 1200
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def run_examples(
    strategy, count: int, call: Callable[[schemathesis.Case], None]
) -> None:
    """Draw `count` cases from a strategy and call each (no shrinking)."""

    @hypothesis.settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def examples(case: schemathesis.Case) -> None:
        call(case)

    examples()


def fuzz(
    document: dict, base_url: str, task_ids: dict[str, str]
) -> tuple[list[str], int]:
    """Fuzz every operation; return the failures and how many calls were made.

    Each operation on one task gets a task of its own: `task_ids` by label.
    """
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    failures: list[str] = []
    calls = 0
    deadline = time.monotonic() + BUDGET_S

    def call(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, session=session, timeout=15)
        case.validate_response(response, checks=CHECKS)

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        passes = [
            (mode, operation.as_strategy(generation_mode=mode), count)
            for mode, count in EXAMPLES.items()
        ]
        path_names = {p.name for p in operation.path_parameters}
        if path_names & {"id", "filename"}:
            task_id = task_ids[operation.label]
            real = dict.fromkeys(path_names, task_id)
            strategy = operation.as_strategy(path_parameters=real)
            passes.append((GenerationMode.POSITIVE, strategy, WITH_REAL_ID))
        for mode, strategy, count in passes:
            if time.monotonic() > deadline:
                failures.append(f"out of time before {operation.label}")
                return failures, calls
            try:
                run_examples(strategy, count, call)
            except Unsatisfiable:
                # Nothing about this operation can be invalid (no parameters,
                # or only free text): there are no negative cases to send.
                if mode != GenerationMode.NEGATIVE:
                    failures.append(f"{operation.label}: no {mode} cases")
            except (Exception, BaseExceptionGroup) as error:
                failures.append(f"{operation.label} ({mode}): {error}")
    return failures, calls


async def test_fuzzing_every_operation_gets_documented_answers_and_no_5xx(
    aiohttp_server, bus_settings, js
):
    app = create_app(WebSettings(bus=bus_settings))
    server = await aiohttp_server(app)
    base_url = str(server.make_url("")).rstrip("/")
    document = app[OPENAPI]
    task_ids = {}
    for path, entry in document["paths"].items():
        if "{id}" not in path and "{filename}" not in path:
            continue
        for method in entry:
            # A task in a status the operation can act on, with both files.
            status = STATUS_FOR.get(path.rsplit("/", 1)[-1], "completed")
            task = await stored_task(js, CONTENT, output=CONTENT[::-1], status=status)
            task_ids[f"{method.upper()} {path}"] = task.id

    failures, calls = await asyncio.to_thread(fuzz, document, base_url, task_ids)

    assert not failures, "\n\n".join(failures)
    assert calls > 300
