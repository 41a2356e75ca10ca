"""Choosing where task records live: the NATS KV bucket, or MongoDB.

With `MONGO_URL` unset (the default) records stay in the embedded `tasks`
bucket and nothing but NATS is needed. With it set, every service that keeps
records (web, coordinator) uses MongoDB; file bytes stay in the NATS object
store either way, so nodes never need more than NATS.
"""

import logging
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from bus import subjects
from bus.settings import env_str
from bus.task_store import KvTaskStore, TaskStore

logger = logging.getLogger(__name__)

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


class MissingDriver(RuntimeError):
    """MONGO_URL is set but PyMongo is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "MONGO_URL is set but PyMongo is not installed: "
            "pip install 'edge-offload[mongo]' (or pymongo>=4.13)"
        )


@dataclass(frozen=True)
class StoreSettings:
    """Where task records are kept."""

    mongo_url: str | None = field(default=None, repr=False)
    """MongoDB connection string; None keeps records in the NATS KV bucket."""
    mongo_db: str | None = None
    """Database name; None: the one named in the URL, else `offload`."""

    def __post_init__(self) -> None:
        if self.mongo_url is not None and not self.mongo_url.startswith(MONGO_SCHEMES):
            raise ValueError(
                "MONGO_URL must start with mongodb:// or mongodb+srv://, "
                f"not {self.mongo_url.partition('://')[0]!r}"
            )
        if self.mongo_db is not None and not self.mongo_db.strip():
            raise ValueError("MONGO_DB must not be blank")

    @property
    def uses_mongodb(self) -> bool:
        """Whether records live in MongoDB."""
        return self.mongo_url is not None

    @classmethod
    def from_env(cls) -> "StoreSettings":
        """Read MONGO_URL and MONGO_DB."""
        return cls(
            mongo_url=env_str("MONGO_URL", "") or None,
            mongo_db=env_str("MONGO_DB", "") or None,
        )


async def open_task_store(
    js: JetStreamContext, settings: StoreSettings | None = None
) -> TaskStore:
    """The task store the settings (by default, the environment) ask for."""
    chosen = settings if settings is not None else StoreSettings.from_env()
    if chosen.mongo_url is None:
        logger.info("task records in the NATS KV bucket %r", subjects.TASKS_BUCKET)
        return await KvTaskStore.open(js)
    return await open_mongo_store(chosen.mongo_url, chosen.mongo_db)


async def open_mongo_store(url: str, database: str | None) -> TaskStore:
    """The MongoDB store; PyMongo is imported only when it is asked for."""
    try:
        from bus.mongo_store import MongoTaskStore
    except ImportError as error:
        raise MissingDriver() from error
    return await MongoTaskStore.open(url, database)
