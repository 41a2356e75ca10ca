"""What a subcommand is: its name, its help, its arguments and what runs it."""

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One subcommand of `offload`."""

    name: str
    summary: str
    """One line for `offload --help`."""
    description: str
    """The paragraph heading `offload <name> --help`."""
    configure: Callable[[argparse.ArgumentParser], None]
    """Adds the command's own arguments."""
    run: Callable[[argparse.Namespace], Awaitable[int]]
    """Does the work and returns the exit code (failures raise ClientError)."""
    epilog: str = ""
    """Examples shown at the end of the command's help."""
