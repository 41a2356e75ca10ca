"""Typed keys for what the application holds while it runs."""

from aiohttp import web
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.file_store import FileStore
from bus.nodes import NodeDirectory
from bus.task_store import TaskStore
from web.settings import WebSettings

SETTINGS = web.AppKey("settings", WebSettings)
NC = web.AppKey("nc", Client)
JS = web.AppKey("js", JetStreamContext)
STORE = web.AppKey("store", TaskStore)
FILES = web.AppKey("files", FileStore)
NODES = web.AppKey("nodes", NodeDirectory)
