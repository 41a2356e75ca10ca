"""The single entry point that runs a validated operation on a file."""

from __future__ import annotations

import logging
from pathlib import Path

from media.contact_sheet import make_contact_sheet
from media.errors import MediaError, ProcessingFailed
from media.failures import failures_as
from media.formats import IMAGE
from media.images import process_image
from media.outputs import OutputInfo
from media.params import Params
from media.progress import CallbackError, ProgressCallback, ProgressReporter
from media.validation import validate_operation
from media.videos import process_video

logger = logging.getLogger(__name__)


def process(
    kind: str,
    operation: str,
    params: Params,
    input_path: Path,
    output_path: Path,
    progress: ProgressCallback | None = None,
) -> OutputInfo:
    """Run an operation from input_path to output_path (blocking; use a thread)."""
    # Re-validating is idempotent and costs microseconds; it means a caller that
    # skipped validate_operation gets InvalidOperation, not a KeyError.
    params = validate_operation(kind, operation, params)
    reporter = ProgressReporter(progress)
    try:
        with failures_as("processing failed"):
            _check_input(Path(input_path))
            info = _dispatch(
                kind, operation, params, Path(input_path), Path(output_path), reporter
            )
        reporter.finish()
    except CallbackError as exc:
        _discard(output_path)
        # The callback's own exception (e.g. a cancellation) goes back as is.
        raise exc.original from None
    except MediaError:
        _discard(output_path)
        raise
    logger.debug("%s %s wrote %s", kind, operation, info)
    return info


def _dispatch(
    kind: str,
    operation: str,
    params: Params,
    input_path: Path,
    output_path: Path,
    reporter: ProgressReporter,
) -> OutputInfo:
    if kind == IMAGE:
        return process_image(operation, params, input_path, output_path)
    if operation == "thumbnail":
        return make_contact_sheet(params, input_path, output_path, reporter)
    return process_video(operation, params, input_path, output_path, reporter)


def _check_input(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ProcessingFailed("input file is missing") from None
    if not path.is_file():
        raise ProcessingFailed("input is not a regular file")
    if size == 0:
        raise ProcessingFailed("input file is empty")


def _discard(output_path: Path) -> None:
    # A half-written result must not be mistaken for a finished one.
    try:
        Path(output_path).unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove partial output %s", output_path)
