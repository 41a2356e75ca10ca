"""Typed keys for what the application holds while it runs."""

from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.file_store import FileStore
from bus.nodes import NodeDirectory
from bus.task_store import TaskStore
from web.byte_ranges import RangeReader
from web.counters import Metrics
from web.live import EventHub
from web.settings import WebSettings

SETTINGS = web.AppKey("settings", WebSettings)
NC = web.AppKey("nc", Client)
JS = web.AppKey("js", JetStreamContext)
STORE = web.AppKey("store", TaskStore)
FILES = web.AppKey("files", FileStore)
NODES = web.AppKey("nodes", NodeDirectory)
PUBLIC = web.AppKey("public", frozenset[AbstractResource])
"""Resources served without the API token: liveness and the page's files."""
OPENAPI = web.AppKey("openapi", dict[str, Any])
METRICS = web.AppKey("metrics", Metrics)
EVENTS = web.AppKey("events", EventHub)
RANGES = web.AppKey("ranges", RangeReader)
