"""Pre-processing on CPython: decoding inputs, geometry, and normalisation into the input tensor."""

import io

import numpy as np
import pytest
from PIL import Image

from inpage.errors import ImageDecodeError
from inpage.image import to_pil_rgb
from inpage.manifest import InputSpec, PreprocessSpec
from inpage.preprocess import TensorWriter, fit_to_input

from conftest import FIXTURES, SAMPLES


def spec(resize, **kw):
    defaults = dict(channel_order="RGB", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    defaults.update(kw)
    return PreprocessSpec(resize=resize, **defaults)


def test_encoded_bytes_pil_and_arrays_give_the_same_pixels():
    png = (SAMPLES / "coffee.png").read_bytes()
    from_bytes = np.asarray(to_pil_rgb(png))
    rgba = np.dstack([from_bytes, np.full(from_bytes.shape[:2], 255, np.uint8)])
    assert from_bytes.shape == (400, 600, 3)
    assert np.array_equal(np.asarray(to_pil_rgb(Image.open(io.BytesIO(png)))), from_bytes)
    assert np.array_equal(np.asarray(to_pil_rgb(from_bytes)), from_bytes)
    # RGBA from a canvas: alpha is dropped, colour channels kept in order.
    assert np.array_equal(np.asarray(to_pil_rgb(rgba)), from_bytes)


def test_grayscale_and_palette_images_become_rgb():
    gray = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), "L")
    out = np.asarray(to_pil_rgb(gray))
    assert out.shape == (8, 8, 3)
    assert np.array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize(
    "data, message",
    [
        ((FIXTURES / "not-an-image.png").read_bytes(), "not an image"),
        ((FIXTURES / "truncated.jpg").read_bytes(), "truncated"),
        (b"", "empty"),
        (np.zeros((4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
    ],
)
def test_bad_inputs_raise_a_clear_error(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        to_pil_rgb(data)


def test_letterbox_keeps_aspect_and_maps_boxes_back():
    frame = Image.new("RGB", (640, 480), (200, 10, 10))
    fitted, transform = fit_to_input(frame, spec("letterbox", pad_value=0), 416, 416)
    pixels = np.asarray(fitted)
    assert fitted.size == (416, 416)
    # 640x480 scales by 0.65 to 416x312, centred: 52 rows of padding above and below.
    assert (pixels[:52] == 0).all() and (pixels[364:] == 0).all()
    assert (pixels[52:364] == (200, 10, 10)).all()
    back = transform.boxes_to_frame(np.array([[0, 52, 416, 364], [208, 208, 208, 208]], np.float32))
    np.testing.assert_allclose(back, [[0, 0, 640, 480], [320, 240, 320, 240]], atol=1e-4)


def test_stretch_maps_each_axis_separately():
    fitted, transform = fit_to_input(Image.new("RGB", (640, 480)), spec("stretch"), 320, 320)
    assert fitted.size == (320, 320)
    np.testing.assert_allclose(transform.boxes_to_frame(np.array([[160, 160, 320, 320]], np.float32)), [[320, 240, 640, 480]])


def test_boxes_are_clipped_to_the_frame_but_keypoints_are_not():
    _, transform = fit_to_input(Image.new("RGB", (100, 100)), spec("stretch"), 100, 100)
    np.testing.assert_allclose(transform.boxes_to_frame(np.array([[-5, -5, 120, 50]], np.float32)), [[0, 0, 100, 50]])
    np.testing.assert_allclose(transform.points_to_frame(np.array([[-5.0, 120.0]], np.float32)), [[-5, 120]])


def test_shorter_side_then_centre_crop():
    # A 600x400 image with a distinct centre: shorter side 400 -> 256 gives 384x256, crop 224.
    image = np.zeros((400, 600, 3), np.uint8)
    image[150:250, 250:350] = 255
    fitted, transform = fit_to_input(Image.fromarray(image), spec("shorter_side_center_crop", resize_shorter_to=256), 224, 224)
    pixels = np.asarray(fitted)
    assert fitted.size == (224, 224)
    assert pixels[112, 112].min() == 255 and pixels[0, 0].max() == 0
    # The crop's top-left corner is at (80, 16) of the 384x256 resize, i.e. (125, 25) in the original.
    np.testing.assert_allclose(transform.points_to_frame(np.array([[0.0, 0.0]], np.float32)), [[125, 25]], atol=1e-3)


def test_tensor_writer_nchw_bgr_normalisation():
    writer = TensorWriter(
        InputSpec("x", (1, 3, 2, 2), "float32", "NCHW"),
        spec("stretch", channel_order="BGR", mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395)),
    )
    pixels = np.zeros((2, 2, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 10, 20, 30  # R, G, B
    tensor = writer.write(pixels)
    assert tensor.shape == (1, 3, 2, 2) and tensor.dtype == np.float32 and tensor.flags.c_contiguous
    # BGR models: channel 0 is blue.
    np.testing.assert_allclose(tensor[0, :, 0, 0], [(30 - 103.53) / 57.375, (20 - 116.28) / 57.12, (10 - 123.675) / 58.395], rtol=1e-6)
    assert writer.write(pixels) is tensor  # the same buffer, reused


def test_tensor_writer_nhwc_rgb_minus_one_to_one():
    writer = TensorWriter(InputSpec("x", (1, 2, 2, 3), "float32", "NHWC"), spec("letterbox", mean=(127.5,) * 3, std=(127.5,) * 3))
    pixels = np.array([[[0, 255, 127]] * 2] * 2, np.uint8)
    tensor = writer.write(pixels)
    np.testing.assert_allclose(tensor[0, 0, 0], [-1.0, 1.0, -0.5 / 127.5], atol=1e-6)
