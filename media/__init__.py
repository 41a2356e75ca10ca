"""Image and video operations for the offloading system's worker nodes."""

from media.catalog import OPERATIONS, Operation, Param, describe_operations
from media.errors import (
    InvalidOperation,
    MediaError,
    ProcessingFailed,
    UnsupportedMedia,
)
from media.formats import SUPPORTED_TYPES, media_kind
from media.naming import output_name
from media.outputs import OutputInfo
from media.processing import process
from media.validation import validate_operation

__all__ = [
    "OPERATIONS",
    "SUPPORTED_TYPES",
    "InvalidOperation",
    "MediaError",
    "Operation",
    "OutputInfo",
    "Param",
    "ProcessingFailed",
    "UnsupportedMedia",
    "describe_operations",
    "media_kind",
    "output_name",
    "process",
    "validate_operation",
]
