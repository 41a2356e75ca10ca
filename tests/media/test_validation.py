"""Validating operation requests and normalising their parameters."""

import pytest

from media import InvalidOperation, validate_operation


def test_defaults_are_filled_in():
    assert validate_operation("image", "blur", {}) == {"radius": 2.0}
    assert validate_operation("video", "transcode", {}) == {
        "codec": "h264",
        "bitrate": 1_000_000,
    }


def test_form_strings_are_coerced_to_the_parameter_type():
    params = validate_operation(
        "image", "rotate", {"degrees": " 2.5 ", "expand": "false"}
    )
    assert params == {"degrees": 2.5, "expand": False}
    assert validate_operation("image", "thumbnail", {"size": "64"}) == {"size": 64}
    assert validate_operation("image", "rotate", {"expand": "on"})["expand"] is True


def test_empty_form_fields_mean_not_given():
    params = validate_operation("image", "resize", {"width": "", "height": "300"})
    assert params == {"width": None, "height": 300, "scale": None}


def test_choices_are_case_insensitive_and_accept_aliases():
    assert validate_operation("image", "convert", {"format": "JPG"})["format"] == "jpeg"
    assert validate_operation("video", "transcode", {"codec": "VP9"})["codec"] == "vp9"


def test_unknown_operation_lists_the_valid_ones_for_the_kind():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "foo", {})
    error = caught.value
    assert error.field == "operation"
    assert "grayscale" in error.valid and "transcode" not in error.valid
    assert str(error).startswith(
        "unknown operation 'foo'; valid operations for images:"
    )
    assert "autocontrast, blur" in str(error)


def test_video_only_operation_is_rejected_for_images():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "transcode", {})
    assert caught.value.field == "operation"
    assert "transcode" not in caught.value.valid


def test_image_only_operation_is_rejected_for_videos():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("video", "blur", {})
    assert caught.value.valid == ["grayscale", "resize", "thumbnail", "transcode"]


def test_unknown_kind_is_rejected():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("audio", "grayscale", {})
    assert caught.value.field == "kind"


def test_unknown_parameter_names_the_field_and_lists_valid_ones():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "blur", {"sigma": 3})
    assert caught.value.field == "sigma"
    assert caught.value.valid == ["radius"]
    assert "sigma" in str(caught.value)


def test_out_of_range_value_names_the_field_and_the_range():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "blur", {"radius": "500"})
    assert caught.value.field == "radius"
    assert "at most 100" in str(caught.value)


def test_non_numeric_string_is_rejected_with_the_expected_type():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "thumbnail", {"size": "big"})
    assert caught.value.field == "size"
    assert "must be an integer" in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", True, [1], "2.5"])
def test_values_that_are_not_finite_integers_are_rejected(value):
    with pytest.raises(InvalidOperation):
        validate_operation("image", "thumbnail", {"size": value})


def test_bad_choice_lists_the_allowed_choices():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "flip", {"direction": "diagonal"})
    assert caught.value.field == "direction"
    assert caught.value.valid == ["horizontal", "vertical"]
    assert "horizontal, vertical" in str(caught.value)


def test_resize_needs_a_size_or_a_scale():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "resize", {})
    assert caught.value.field == "width"


def test_resize_rejects_size_and_scale_together():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("video", "resize", {"width": 100, "scale": 2})
    assert caught.value.field == "scale"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": "8.5"}, "scale"),
        ({"width": 0}, "width"),
        ({"height": 8193}, "height"),
        ({"width": -5}, "width"),
    ],
)
def test_resize_sizes_must_be_positive_and_capped(params, field):
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "resize", params)
    assert caught.value.field == field


def test_scale_of_exactly_eight_is_allowed():
    assert validate_operation("image", "resize", {"scale": "8"})["scale"] == 8.0


def test_contact_sheet_width_is_capped():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("video", "thumbnail", {"columns": 16, "tile_width": 1024})
    assert caught.value.field == "tile_width"


def test_long_hostile_values_are_shortened_in_messages():
    with pytest.raises(InvalidOperation) as caught:
        validate_operation("image", "thumbnail", {"size": "x" * 500 + "\n"})
    assert len(str(caught.value)) < 150
    assert "\n" not in str(caught.value)
