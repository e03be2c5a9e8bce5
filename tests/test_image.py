"""Decoding on CPython: the pixels a user sees, from every kind of input, and clear errors for the rest.

The page runs the same code (see test_hostile_page.py for the same inputs in Chromium).
"""

import io

import numpy as np
import pytest
from PIL import Image

from inpage.errors import ImageDecodeError
from inpage.image import ALPHA_BACKGROUND, FORMATS, MAX_PIXELS, to_rgb

import makers
from conftest import FIXTURES, SAMPLES


def pixels(source) -> np.ndarray:
    return np.asarray(to_rgb(source))


def test_bytes_pil_and_arrays_give_the_same_pixels():
    png = (SAMPLES / "coffee.png").read_bytes()
    from_bytes = pixels(png)
    assert from_bytes.shape == (400, 600, 3)
    rgba = np.dstack([from_bytes, np.full(from_bytes.shape[:2], 255, np.uint8)])
    assert np.array_equal(pixels(Image.open(io.BytesIO(png))), from_bytes)
    assert np.array_equal(pixels(from_bytes), from_bytes)
    assert np.array_equal(pixels(rgba), from_bytes)


def test_grayscale_arrays_and_palette_images_become_rgb():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    for source in (gray, gray[:, :, None], Image.fromarray(gray).convert("P")):
        out = pixels(source)
        assert out.shape == (8, 8, 3) and np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)


@pytest.mark.parametrize("orientation, expected_shape", [(1, (40, 60, 3)), (3, (40, 60, 3)), (6, (60, 40, 3)), (8, (60, 40, 3))])
def test_exif_orientation_is_applied(orientation, expected_shape):
    # A 40x60 image, red in its stored top-left corner. Orientation 6 means "rotate 90 degrees
    # clockwise to view": the red corner then shows at the top right.
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)
    upright = pixels(makers.exif_png(stored, orientation))
    assert upright.shape == expected_shape
    corner = {1: upright[:10, :10], 3: upright[-10:, -10:], 6: upright[:10, -10:], 8: upright[-10:, :10]}[orientation]
    assert corner.mean(axis=(0, 1))[0] > 200 and corner.mean(axis=(0, 1))[2] < 50


def test_exif_rotated_jpeg_is_upright():
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :30] = 250
    assert pixels(makers.exif_jpeg(stored, 6)).shape == (60, 40, 3)


def test_sixteen_bit_grayscale_and_rgb_scale_to_eight_bits():
    ramp = np.linspace(0, 65535, 64 * 16).astype(np.uint16).reshape(16, 64)
    gray = pixels(makers.png16(ramp))
    # Not solid white: the ramp survives, scaled by 1/256.
    np.testing.assert_array_equal(gray[..., 0], (ramp >> 8).astype(np.uint8))
    rgb16 = np.stack([ramp, ramp // 2, 65535 - ramp], axis=-1).astype(np.uint16)
    colour = pixels(makers.png16(rgb16))
    np.testing.assert_allclose(colour.astype(int), (rgb16 >> 8).astype(int), atol=1)
    # Arrays too.
    np.testing.assert_array_equal(pixels(ramp)[..., 1], (ramp >> 8).astype(np.uint8))


def test_transparent_pixels_are_white_whatever_colour_hides_under_them():
    rgba = makers.rgba_hidden_colour()
    for source in (rgba, makers.png(rgba), Image.fromarray(rgba)):
        out = pixels(source)
        assert tuple(out[0, 0]) == ALPHA_BACKGROUND
        assert tuple(out[32, 32]) == (0, 0, 255)
    half = np.zeros((2, 2, 4), np.uint8)
    half[...] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    assert abs(int(pixels(half)[0, 0, 0]) - 127) <= 1


def test_first_frame_of_animated_and_multipage_files():
    frames = [np.full((8, 8, 3), value, np.uint8) for value in (10, 200, 90)]
    for data in (makers.multipage_tiff(frames), makers.animated_gif(frames)):
        out = pixels(data)
        assert out.shape == (8, 8, 3) and abs(int(out.mean()) - 10) <= 2


def test_formats_outside_the_shared_list_get_one_clear_error():
    with pytest.raises(ImageDecodeError, match="AVIF images are not supported"):
        to_rgb(makers.avif_or_header())
    assert "PNG" in FORMATS and "AVIF" not in FORMATS
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
    with pytest.raises(ImageDecodeError, match="not an image inpage can read; it reads BMP"):
        to_rgb(eps)


def test_claimed_huge_sizes_fail_before_decoding():
    with pytest.raises(ImageDecodeError, match="over inpage's limit of 64"):
        to_rgb(makers.png_claiming(10_000, 10_000))
    with pytest.raises(ImageDecodeError, match="over inpage's limit"):
        to_rgb(makers.png_claiming(200_000, 200_000))  # a decompression bomb for Pillow too
    with pytest.raises(ImageDecodeError, match="over inpage's limit"):
        to_rgb(np.zeros((1, MAX_PIXELS + 1), np.uint8))


@pytest.mark.parametrize(
    "data, message",
    [
        ((FIXTURES / "not-an-image.png").read_bytes(), "not an image"),
        ((FIXTURES / "truncated.jpg").read_bytes(), "truncated"),
        (b"", "empty"),
        (np.zeros((4, 4, 2), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((0, 4, 3), np.uint8), "no pixels"),
        ("samples/cat.png", "unsupported image type str"),
    ],
)
def test_bad_inputs_raise_one_clear_line(data, message):
    with pytest.raises(ImageDecodeError, match=message) as caught:
        to_rgb(data)
    assert "\n" not in str(caught.value)
