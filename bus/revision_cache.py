"""The last version of each task record a process saw, with its revision.

Both stores update optimistically: a write names the revision it started
from. Remembering what this process last read or wrote lets most updates
skip the read; a stale entry only costs one refused write and a fresh read.
"""

from collections import OrderedDict

from bus.schemas import TaskRecord

DEFAULT_SIZE = 20_000


class RevisionCache:
    """A bounded map from task id to (record, revision), least recent out first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: OrderedDict[str, tuple[TaskRecord, int]] = OrderedDict()
        self._size = size

    def recall(self, task_id: str) -> tuple[TaskRecord, int] | None:
        """A private copy of the remembered record and its revision, if any."""
        # A copy: a change that fails to land must not leak into the cache the
        # next attempt starts from.
        known = self._entries.get(task_id)
        if known is None:
            return None
        record, revision = known
        return record.copy(), revision

    def remember(self, record: TaskRecord, revision: int) -> TaskRecord:
        """Keep a snapshot of `record` at `revision`; return the snapshot."""
        snapshot = record.copy()
        self._entries[record.id] = (snapshot, revision)
        self._entries.move_to_end(record.id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return snapshot

    def forget(self, task_id: str) -> None:
        """Drop what is known about a task (it changed elsewhere or is gone)."""
        self._entries.pop(task_id, None)
