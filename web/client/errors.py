"""What can go wrong in the client, each with the exit code it ends in."""

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ClientError(Exception):
    """A failure reported as one line on stderr; the command exits with 1."""

    exit_code = EXIT_FAILED


class UsageError(ClientError):
    """The command line asks for something impossible (a missing file, ...)."""

    exit_code = EXIT_USAGE


class Unreachable(ClientError):
    """The server could not be reached, or the connection broke off."""


class ApiFailure(ClientError):
    """The server answered with an error status and, usually, a JSON error."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body

    def __str__(self) -> str:
        if self.status == 401:
            return (
                f"the server refused the request (401): {self.message}; "
                "pass --token or set API_TOKEN"
            )
        return f"the server answered {self.status}: {self.message}{self._details()}"

    def _details(self) -> str:
        # The message usually names what is valid already; add it only if not.
        if not isinstance(self.body, dict):
            return ""
        for key in ("valid", "supported"):
            values = self.body.get(key)
            if isinstance(values, list) and values:
                listed = [str(value) for value in values]
                if not all(value in self.message for value in listed):
                    return f" ({key}: {', '.join(listed)})"
        return ""
