"""Pixel formats: every accepted layout gives the same gray view and a correct RGB view; bad frames are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emoplay import Frame, SourceError
from emoplay._frames import check_pixels, to_rgb_and_gray

# A 2x4 RGB image of known colours.
RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]],
                [[0, 0, 0], [10, 200, 30], [255, 128, 0], [90, 60, 250]]], np.uint8)
# ITU-R BT.601 luma, as OpenCV computes it.
GRAY = np.rint(RGB @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
ALPHA = np.array([[0, 50, 128, 255], [255, 1, 77, 200]], np.uint8)[:, :, None]


def colour_variants() -> dict[str, tuple[np.ndarray, str]]:
    bgr = np.ascontiguousarray(RGB[:, :, ::-1])
    return {
        "bgr": (bgr, "bgr"),
        "rgb": (RGB.copy(), "rgb"),
        "bgra": (np.concatenate([bgr, ALPHA], axis=2), "bgr"),
        "rgba": (np.concatenate([RGB, ALPHA], axis=2), "rgb"),
        "bgr-strided-view": (RGB[:, :, ::-1], "bgr"),  # a reversed view, as hosts often pass
        "rgb-transposed-view": (np.ascontiguousarray(RGB.transpose(1, 0, 2)).transpose(1, 0, 2), "rgb"),
        "bgr-cropped-view": (np.pad(bgr, ((1, 1), (2, 2), (0, 0)))[1:-1, 2:-2], "bgr"),
    }


def test_luma_reference_matches_hand_values():
    assert GRAY[0].tolist() == [76, 150, 29, 255]  # red, green, blue, white
    assert GRAY[1, 0] == 0


@pytest.mark.parametrize("name", list(colour_variants()))
def test_colour_inputs_give_the_right_rgb_and_gray_views(name):
    pixels, order = colour_variants()[name]
    before = pixels.copy()
    rgb, gray = to_rgb_and_gray(pixels, order)
    assert rgb.shape == (2, 4, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, RGB)
    assert gray.shape == (2, 4) and gray.dtype == np.uint8 and gray.flags.c_contiguous
    assert np.abs(gray.astype(int) - GRAY.astype(int)).max() <= 1
    np.testing.assert_array_equal(pixels, before)  # the caller's frame is untouched


def test_every_layout_gives_the_same_gray_view():
    reference = to_rgb_and_gray(colour_variants()["bgr"][0])[1]
    grays = {name: to_rgb_and_gray(p, order)[1] for name, (p, order) in colour_variants().items()}
    grays["gray"] = to_rgb_and_gray(reference.copy())[1]
    grays["gray-hxwx1"] = to_rgb_and_gray(reference[:, :, None].copy())[1]
    for name, gray in grays.items():
        np.testing.assert_array_equal(gray, reference, err_msg=name)


@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 1)])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_gray_input_gives_itself_and_a_replicated_rgb_view(shape, order):
    rgb, gray = to_rgb_and_gray(GRAY.reshape(shape).copy(), order)
    np.testing.assert_array_equal(gray, GRAY)
    np.testing.assert_array_equal(rgb, np.repeat(GRAY[:, :, None], 3, axis=2))
    assert rgb.flags.c_contiguous and gray.flags.c_contiguous


def test_default_order_is_bgr():
    bgr = colour_variants()["bgr"][0]
    np.testing.assert_array_equal(to_rgb_and_gray(bgr)[0], RGB)
    assert Frame(bgr, 0.0).color_order == "bgr"


def test_frame_is_immutable():
    frame = Frame(GRAY, 1.5, 3)
    assert (frame.timestamp, frame.index) == (1.5, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.timestamp = 2.0


def test_check_pixels_squeezes_single_channel():
    assert check_pixels(np.zeros((3, 5, 1), np.uint8)).shape == (3, 5)
    same = np.zeros((3, 5, 3), np.uint8)
    assert check_pixels(same) is same


# -- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pixels", [np.zeros((0, 0, 3), np.uint8), np.zeros((0, 10), np.uint8),
                                    np.zeros((10, 0, 3), np.uint8), np.zeros((0,), np.uint8)])
def test_empty_frame_is_a_source_error(pixels):
    with pytest.raises(SourceError, match="empty frame"):
        to_rgb_and_gray(pixels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int8, bool])
def test_non_uint8_is_a_type_error(dtype):
    with pytest.raises(TypeError, match="uint8"):
        to_rgb_and_gray(np.zeros((4, 4, 3), dtype))


@pytest.mark.parametrize("pixels", [[[0, 1], [2, 3]], None, b"\x00" * 12])
def test_non_array_is_a_type_error(pixels):
    with pytest.raises(TypeError, match="numpy array"):
        to_rgb_and_gray(pixels)


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (2, 4, 4, 3), (1, 4, 4, 1), (16,)])
def test_unsupported_shape_is_a_value_error(shape):
    with pytest.raises(ValueError, match="unsupported frame shape"):
        to_rgb_and_gray(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("order", ["BGR", "hsv", "", "bgr "])
@pytest.mark.parametrize("pixels", [RGB, GRAY], ids=["colour", "gray"])
def test_bad_color_order_is_a_value_error(order, pixels):
    with pytest.raises(ValueError, match="color_order"):
        to_rgb_and_gray(pixels, order)
