"""`offload migrate`: copy every task record from the NATS KV store to MongoDB.

Unlike the other commands this one talks to NATS and MongoDB directly, not
to the web service. Stop the services first (or accept that records changed
during the copy are refreshed by running it again), then start them with
MONGO_URL set.
"""

import argparse
import asyncio
import dataclasses
import logging
import sys

import nats.errors
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError

from bus import connection, subjects
from bus.errors import OffloadError
from bus.settings import BusSettings, env_str
from bus.store_factory import MissingDriver, StoreSettings
from bus.task_store import KvTaskStore
from web.client.commands.base import Command
from web.client.commands.options import positive_int
from web.client.errors import EXIT_FAILED, EXIT_OK, ClientError, Unreachable, UsageError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of `offload migrate`."""
    parser.add_argument(
        "--to",
        required=True,
        metavar="MONGO_URL",
        help="the MongoDB to copy into, e.g. mongodb://host:27017/offload",
    )
    parser.add_argument(
        "--db",
        help="database name (default: $MONGO_DB, else the one in the URL, "
        "else offload)",
    )
    parser.add_argument(
        "--nats",
        help="NATS servers holding the records (default: $NATS_URL or "
        "nats://127.0.0.1:4222); credentials and TLS come from the NATS_* "
        "variables as for the services",
    )
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=500,
        help="records written per round trip (default: 500)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check every record, write nothing",
    )


def target_settings(args: argparse.Namespace) -> StoreSettings:
    """Where to copy to, from --to, --db and MONGO_DB."""
    try:
        database = args.db or env_str("MONGO_DB", "") or None
        return StoreSettings(mongo_url=args.to, mongo_db=database)
    except ValueError as error:
        raise UsageError(str(error).replace("MONGO_URL", "--to")) from None


def bus_settings(args: argparse.Namespace) -> BusSettings:
    """The services' NATS settings, with --nats in place of NATS_URL."""
    try:
        settings = BusSettings.from_env()
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.nats:
        settings = dataclasses.replace(settings, nats_url=args.nats)
    return settings


async def run(args: argparse.Namespace) -> int:
    """Copy (or with --dry-run, only check) every record; print the counts."""
    target = target_settings(args)
    settings = bus_settings(args)
    try:
        from pymongo.errors import PyMongoError

        from bus.mongo_store import MongoTaskStore, redacted
        from bus.store_migration import MigrationReport, migrate
    except ImportError as error:
        raise ClientError(str(MissingDriver())) from error
    assert target.mongo_url is not None

    nc = await connect(settings)
    try:
        source = await open_source(nc, settings)
        store = None
        if not args.dry_run:
            store = await MongoTaskStore.open(target.mongo_url, target.mongo_db)

        def progress(report: MigrationReport) -> None:
            print(
                f"  {report.read} read, {report.copied} copied, "
                f"{report.refreshed} refreshed, {report.kept} kept",
                file=sys.stderr,
            )

        try:
            report = await migrate(source, store, args.batch, progress)
        finally:
            if store is not None:
                await store.close()
    except (OffloadError, PyMongoError, nats.errors.Error) as error:
        # The store's, the driver's and the bus's errors name what went wrong.
        raise ClientError(f"migration stopped: {error}") from error
    finally:
        await connection.close(nc)

    print(
        f"read {report.read} records from the NATS KV bucket {subjects.TASKS_BUCKET!r}"
    )
    if args.dry_run:
        print(
            f"{report.mapped} can be copied to {redacted(target.mongo_url)}; "
            "nothing was written (--dry-run)"
        )
    else:
        print(
            f"into {redacted(target.mongo_url)}: copied {report.copied} new, "
            f"refreshed {report.refreshed} earlier copies, kept {report.kept} "
            "already there"
        )
    if report.skipped:
        print(
            f"skipped {report.malformed} malformed records and "
            f"{report.unstorable} that MongoDB cannot store (see the warnings)"
        )
        return EXIT_FAILED
    return EXIT_OK


async def connect(settings: BusSettings) -> Client:
    """A NATS connection, or Unreachable once CONNECT_TIMEOUT_S has passed."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await connection.connect(settings, "offload-migrate")
    except TimeoutError:
        raise Unreachable(
            f"NATS at {settings.nats_url} did not answer in {CONNECT_TIMEOUT_S:.0f} s"
        ) from None


async def open_source(nc: Client, settings: BusSettings) -> KvTaskStore:
    """The KV store to read, or a clear error when there is no tasks bucket."""
    try:
        return await KvTaskStore.open(connection.jetstream(nc))
    except BucketNotFoundError:
        raise ClientError(
            f"NATS at {settings.nats_url} has no {subjects.TASKS_BUCKET!r} "
            "bucket: there are no records to migrate"
        ) from None


COMMAND = Command(
    name="migrate",
    summary="copy every task record from the NATS KV store into MongoDB",
    description="Read every task record from the NATS KV bucket 'tasks' and "
    "write it into MongoDB (collection 'tasks'), where the services keep "
    "records once MONGO_URL is set. File bytes stay in the NATS object store. "
    "Running it again is safe: records already in MongoDB are kept, earlier "
    "copies are refreshed only if nothing changed them in MongoDB since. "
    "Nothing is ever deleted. Exits 1 if any record could not be copied.",
    configure=configure,
    run=run,
    epilog="""examples:
  offload migrate --to mongodb://127.0.0.1:27017/offload --dry-run
  offload migrate --to mongodb://db1,db2,db3/offload?replicaSet=rs0 --batch 1000
  offload migrate --to mongodb://127.0.0.1:27017 --db offload --nats nats://hub:4222""",
)
