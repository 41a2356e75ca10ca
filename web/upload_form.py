"""The non-file fields of an upload: the operation, its params, and `schedule`."""

import functools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from media import describe_operations, validate_operation
from web.errors import ApiError

logger = logging.getLogger(__name__)

OPERATION_FIELD = "operation"
OPERATION_ALIAS = "conversionType"
PARAMS_FIELD = "params"
SCHEDULE_FIELD = "schedule"
MAX_FIELDS = 100

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def parse_flag(name: str, raw: str) -> bool:
    """A yes/no form value; anything else is a 400 naming the field."""
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ApiError(400, f"{name} must be true or false, not {raw[:40]!r}", field=name)


@functools.cache
def catalog() -> dict[str, dict[str, object]]:
    """The operation catalog by kind; it never changes while we run."""
    return describe_operations()


def operation_names(kinds: set[str] | None = None) -> list[str]:
    """The operation names valid for any of the given kinds (all kinds if None)."""
    chosen = catalog() if kinds is None else {k: catalog()[k] for k in kinds}
    return sorted({name for operations in chosen.values() for name in operations})


@dataclass
class UploadForm:
    """What the form fields of one upload asked for."""

    operation: str | None = None
    alias: str | None = None
    json_params: dict[str, Any] = field(default_factory=dict)
    field_params: dict[str, str] = field(default_factory=dict)
    schedule: bool = False
    fields_seen: int = 0

    @property
    def operation_name(self) -> str | None:
        """The operation asked for: `operation`, else the prototype's alias."""
        return self.operation or self.alias

    def add(self, name: str, value: str) -> None:
        """Take one form field."""
        self.fields_seen += 1
        if self.fields_seen > MAX_FIELDS:
            raise ApiError(400, f"too many form fields (at most {MAX_FIELDS})")
        if name == OPERATION_FIELD:
            self.operation = value.strip() or None
        elif name == OPERATION_ALIAS:
            self.alias = value.strip() or None
        elif name == PARAMS_FIELD:
            self.json_params = parse_params(value)
        elif name == SCHEDULE_FIELD:
            self.schedule = parse_flag(name, value)
        elif value.strip():
            # A blank field is an input left empty on a form: not a parameter.
            self.field_params[name] = value

    def check_kind(self, kind: str) -> None:
        """Fail early when the operation already named cannot apply to `kind`."""
        name = self.operation_name
        if name is not None and name not in catalog()[kind]:
            # Raises InvalidOperation naming the operations valid for `kind`.
            validate_operation(kind, name, {})

    def params_for(self, kind: str) -> dict[str, Any]:
        """The operation's params checked and normalised for one kind of media."""
        name = self.operation_name
        if name is None:
            valid = operation_names({kind})
            raise ApiError(
                400,
                "choose an operation for the files; valid operations for "
                f"{kind}s: {', '.join(valid)}",
                field=OPERATION_FIELD,
                valid=valid,
            )
        params = {**self.json_params, **self.field_params}
        return validate_operation(kind, name, params)


def parse_params(raw: str) -> dict[str, Any]:
    """The `params` field: a JSON object, or a 400 naming the field."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: arrays or objects nested thousands deep.
        raise ApiError(
            400, 'params must be a JSON object, e.g. {"width": 100}', field="params"
        ) from None
    if not isinstance(value, dict):
        raise ApiError(
            400, 'params must be a JSON object, e.g. {"width": 100}', field="params"
        )
    return value
