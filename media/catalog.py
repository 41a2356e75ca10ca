"""The catalog of operations: names, kinds, parameters and their limits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from media.formats import IMAGE, VIDEO
from media.limits import MAX_SCALE, MAX_SIDE

logger = logging.getLogger(__name__)

# Parameter types use JSON Schema names so a web form can use them directly.
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
STRING = "string"


@dataclass(frozen=True)
class Param:
    """One parameter of an operation; default None means "not given"."""

    name: str
    type: str
    default: object
    description: str
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        """Return a JSON-serialisable description of this parameter."""
        info: dict[str, object] = {
            "type": self.type,
            "default": self.default,
            "description": self.description,
        }
        if self.min is not None:
            info["min"] = self.min
            if self.exclusive_min:
                info["exclusive_min"] = True
        if self.max is not None:
            info["max"] = self.max
        if self.choices:
            info["choices"] = list(self.choices)
        return info


@dataclass(frozen=True)
class Operation:
    """An operation applicable to one kind of media."""

    name: str
    kind: str
    description: str
    params: tuple[Param, ...] = ()

    def param(self, name: str) -> Param | None:
        """Return the parameter called name, or None."""
        return next((p for p in self.params if p.name == name), None)

    def describe(self) -> dict[str, object]:
        """Return a JSON-serialisable description of this operation."""
        return {
            "description": self.description,
            "params": {p.name: p.describe() for p in self.params},
        }


def _side(name: str, what: str, minimum: int = 1) -> Param:
    return Param(name, INTEGER, None, what, min=minimum, max=MAX_SIDE)


_SCALE = Param(
    "scale",
    NUMBER,
    None,
    "Resize factor (instead of width/height); 0.5 halves each side.",
    min=0,
    max=MAX_SCALE,
    exclusive_min=True,
)
_BITRATE = Param(
    "bitrate",
    INTEGER,
    1_000_000,
    "Target video bitrate in bits per second.",
    min=50_000,
    max=50_000_000,
)

_IMAGE_OPERATIONS = (
    Operation("grayscale", IMAGE, "Convert to shades of gray."),
    Operation(
        "resize",
        IMAGE,
        "Resize to width and/or height (aspect kept when only one is given)"
        " or by scale.",
        (
            _side("width", "Target width in pixels."),
            _side("height", "Target height in pixels."),
            _SCALE,
        ),
    ),
    Operation(
        "thumbnail",
        IMAGE,
        "Shrink to fit a square box, keeping the aspect ratio; never enlarges.",
        (
            Param(
                "size",
                INTEGER,
                256,
                "Longest side of the thumbnail in pixels.",
                min=1,
                max=MAX_SIDE,
            ),
        ),
    ),
    Operation(
        "rotate",
        IMAGE,
        "Rotate counter-clockwise by a number of degrees.",
        (
            Param(
                "degrees",
                NUMBER,
                90.0,
                "Angle in degrees, counter-clockwise.",
                min=-360,
                max=360,
            ),
            Param(
                "expand",
                BOOLEAN,
                True,
                "Grow the canvas so the rotated image is not cropped.",
            ),
        ),
    ),
    Operation(
        "flip",
        IMAGE,
        "Mirror the image.",
        (
            Param(
                "direction",
                STRING,
                "horizontal",
                "horizontal mirrors left-right, vertical mirrors top-bottom.",
                choices=("horizontal", "vertical"),
            ),
        ),
    ),
    Operation(
        "blur",
        IMAGE,
        "Gaussian blur.",
        (Param("radius", NUMBER, 2.0, "Blur radius in pixels.", min=0.1, max=100),),
    ),
    Operation(
        "sharpen",
        IMAGE,
        "Sharpen with an unsharp mask.",
        (
            Param("radius", NUMBER, 2.0, "Mask radius in pixels.", min=0.1, max=50),
            Param("percent", INTEGER, 150, "Strength in percent.", min=1, max=500),
            Param(
                "threshold",
                INTEGER,
                3,
                "Minimum brightness change that gets sharpened.",
                min=0,
                max=255,
            ),
        ),
    ),
    Operation("edges", IMAGE, "Highlight edges (find-edges filter)."),
    Operation(
        "autocontrast",
        IMAGE,
        "Stretch contrast so the darkest pixels become black and the brightest white.",
        (
            Param(
                "cutoff",
                NUMBER,
                0.0,
                "Percent of darkest and brightest pixels to ignore.",
                min=0,
                max=49,
            ),
        ),
    ),
    Operation(
        "convert",
        IMAGE,
        "Re-encode in another image format.",
        (
            Param(
                "format",
                STRING,
                "png",
                "Output format.",
                choices=("png", "jpeg", "webp"),
                aliases=MappingProxyType({"jpg": "jpeg"}),
            ),
            Param(
                "quality",
                INTEGER,
                85,
                "Quality for jpeg and webp (ignored for png).",
                min=1,
                max=100,
            ),
        ),
    ),
)

_VIDEO_OPERATIONS = (
    Operation(
        "transcode",
        VIDEO,
        "Re-encode as H.264 in MP4 or VP9 in WebM; audio is dropped.",
        (
            Param(
                "codec",
                STRING,
                "h264",
                "h264 produces MP4, vp9 produces WebM.",
                choices=("h264", "vp9"),
                aliases=MappingProxyType({"avc": "h264", "h.264": "h264"}),
            ),
            _BITRATE,
        ),
    ),
    Operation(
        "grayscale",
        VIDEO,
        "Convert every frame to gray; H.264 in MP4, audio is dropped.",
        (_BITRATE,),
    ),
    Operation(
        "resize",
        VIDEO,
        "Resize to width and/or height or by scale (sides rounded down to even);"
        " H.264 in MP4, audio is dropped.",
        (
            _side("width", "Target width in pixels.", minimum=2),
            _side("height", "Target height in pixels.", minimum=2),
            _SCALE,
            _BITRATE,
        ),
    ),
    Operation(
        "thumbnail",
        VIDEO,
        "Contact sheet PNG of frames sampled evenly across the video.",
        (
            Param("columns", INTEGER, 4, "Tiles per row.", min=1, max=16),
            Param("rows", INTEGER, 3, "Rows of tiles.", min=1, max=16),
            Param(
                "tile_width",
                INTEGER,
                160,
                "Width of each tile in pixels.",
                min=16,
                max=1024,
            ),
        ),
    ),
)


def _index(operations: tuple[Operation, ...]) -> Mapping[str, Operation]:
    return MappingProxyType({op.name: op for op in operations})


OPERATIONS: Mapping[str, Mapping[str, Operation]] = MappingProxyType(
    {IMAGE: _index(_IMAGE_OPERATIONS), VIDEO: _index(_VIDEO_OPERATIONS)}
)


def operation_names(kind: str) -> list[str]:
    """Return the sorted operation names available for a kind of media."""
    return sorted(OPERATIONS.get(kind, {}))


def describe_operations() -> dict[str, dict[str, object]]:
    """Describe every operation and parameter as JSON-serialisable data."""
    return {
        kind: {name: ops[name].describe() for name in sorted(ops)}
        for kind, ops in OPERATIONS.items()
    }
