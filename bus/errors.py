"""Exceptions shared by every service; each names what went wrong in a sentence."""


class OffloadError(Exception):
    """Base class of every error this project raises on purpose."""


class MalformedMessage(OffloadError):
    """A bus message could not be decoded or failed validation."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed message: {reason}")
        self.reason = reason


class TaskNotFound(OffloadError):
    """No task record exists under the given id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task with id {task_id!r}")
        self.task_id = task_id


class TaskExists(OffloadError):
    """A task record with this id already exists."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"a task with id {task_id!r} already exists")
        self.task_id = task_id


class ConflictingUpdate(OffloadError):
    """An optimistic update lost to concurrent writers too many times."""

    def __init__(self, task_id: str, attempts: int) -> None:
        super().__init__(
            f"task {task_id!r} changed under us {attempts} times in a row; giving up"
        )
        self.task_id = task_id


class FileMissing(OffloadError):
    """An object is not in the file store."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no stored file named {name!r}")
        self.name = name


class FileCorrupt(OffloadError):
    """A stored object's bytes do not match its recorded digest or size."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"stored file {name!r} is corrupt: {reason}")
        self.name = name


class FileTooLarge(OffloadError):
    """A file grew past the configured size limit while it was being stored."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"file is larger than the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes
