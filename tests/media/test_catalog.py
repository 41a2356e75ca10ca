"""The operation catalog and its JSON description."""

import json

from media import OPERATIONS, describe_operations


def test_description_is_json_serialisable_and_covers_every_operation():
    described = json.loads(json.dumps(describe_operations()))
    assert set(described) == {"image", "video"}
    for kind, operations in OPERATIONS.items():
        assert set(described[kind]) == set(operations)


def test_every_operation_and_parameter_has_a_description_type_and_default():
    for kind_ops in describe_operations().values():
        for op in kind_ops.values():
            assert op["description"]
            for param in op["params"].values():
                assert param["description"]
                assert param["type"] in {"integer", "number", "boolean", "string"}
                assert "default" in param


def test_required_image_and_video_operations_are_listed():
    assert set(OPERATIONS["image"]) == {
        "grayscale",
        "resize",
        "thumbnail",
        "rotate",
        "flip",
        "blur",
        "sharpen",
        "edges",
        "autocontrast",
        "convert",
    }
    assert set(OPERATIONS["video"]) == {"transcode", "grayscale", "resize", "thumbnail"}


def test_choice_parameters_list_their_choices_and_ranges_their_bounds():
    described = describe_operations()
    codec = described["video"]["transcode"]["params"]["codec"]
    assert codec["choices"] == ["h264", "vp9"]
    assert codec["default"] == "h264"
    scale = described["image"]["resize"]["params"]["scale"]
    assert scale["min"] == 0
    assert scale["exclusive_min"] is True
    assert scale["max"] == 8


def test_each_catalog_entry_knows_its_kind():
    for kind, operations in OPERATIONS.items():
        assert all(op.kind == kind for op in operations.values())
