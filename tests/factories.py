"""Small builders of test data shared by several test modules."""

from bus.schemas import TaskRecord


def task_record(**fields) -> TaskRecord:
    """A plausible image task record; any field can be overridden."""
    values = dict(
        id="t",
        filename="a.png",
        content_type="image/png",
        kind="image",
        size=1,
        sha256="",
        operation="grayscale",
    )
    values.update(fields)
    return TaskRecord(**values)
