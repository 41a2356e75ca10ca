"""One logging set-up for every service."""

import logging
import sys


def configure_logging(verbose: bool = False, service: str = "") -> None:
    """Log to stderr with the service name, at debug when verbose."""
    prefix = f"{service} " if service else ""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # The NATS client logs every reconnect attempt at info; keep ours readable.
    logging.getLogger("nats").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if verbose else logging.WARNING
    )
