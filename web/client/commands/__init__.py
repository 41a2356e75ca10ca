"""The registry of subcommands: one module per command, one entry per module here.

A new command is a module with a `COMMAND = Command(...)` (see `base`) and one
more entry in COMMANDS; `web.client.main` builds the parser from this table.
"""

from web.client.commands import fetch, migrate, nodes, status, submit
from web.client.commands.base import Command

COMMANDS: tuple[Command, ...] = (
    submit.COMMAND,
    status.COMMAND,
    fetch.COMMAND,
    nodes.COMMAND,
    migrate.COMMAND,
)
