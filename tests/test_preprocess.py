"""Pre-processing on CPython: geometry, memory bounded by the model's input, and normalisation into the tensor."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from inpage.manifest import ImageSpec
from inpage.preprocess import TensorWriter, fit_to_input

from conftest import ROOT


def spec(resize, width=416, height=416, **kw):
    defaults = dict(input="x", layout="NCHW", width=width, height=height, channels=3, dtype="float32", channel_order="RGB",
                    mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    defaults.update(kw)
    return ImageSpec(resize=resize, **defaults)


def fit(image, image_spec):
    return fit_to_input(image, image_spec)


def test_letterbox_keeps_aspect_and_maps_boxes_back():
    frame = Image.new("RGB", (640, 480), (200, 10, 10))
    fitted, transform = fit(frame, spec("letterbox", pad_value=0))
    pixels = np.asarray(fitted)
    assert fitted.size == (416, 416)
    # 640x480 scales by 0.65 to 416x312, centred: 52 rows of padding above and below.
    assert (pixels[:52] == 0).all() and (pixels[364:] == 0).all()
    assert (pixels[52:364] == (200, 10, 10)).all()
    back = transform.boxes_to_frame(np.array([[0, 52, 416, 364], [208, 208, 208, 208]], np.float32))
    np.testing.assert_allclose(back, [[0, 0, 640, 480], [320, 240, 320, 240]], atol=1e-4)


def test_stretch_maps_each_axis_separately():
    fitted, transform = fit(Image.new("RGB", (640, 480)), spec("stretch", 320, 320))
    assert fitted.size == (320, 320)
    np.testing.assert_allclose(transform.boxes_to_frame(np.array([[160, 160, 320, 320]], np.float32)), [[320, 240, 640, 480]])


def test_boxes_are_clipped_to_the_frame_but_keypoints_are_not():
    _, transform = fit(Image.new("RGB", (100, 100)), spec("stretch", 100, 100))
    np.testing.assert_allclose(transform.boxes_to_frame(np.array([[-5, -5, 120, 50]], np.float32)), [[0, 0, 100, 50]])
    np.testing.assert_allclose(transform.points_to_frame(np.array([[-5.0, 120.0]], np.float32)), [[-5, 120]])


def test_shorter_side_then_centre_crop():
    # A 600x400 image with a distinct centre: shorter side 400 -> 256 gives 384x256, crop 224.
    image = np.zeros((400, 600, 3), np.uint8)
    image[150:250, 250:350] = 255
    fitted, transform = fit(Image.fromarray(image), spec("shorter_side_center_crop", 224, 224, resize_shorter_to=256))
    pixels = np.asarray(fitted)
    assert fitted.size == (224, 224)
    assert pixels[112, 112].min() == 255 and pixels[0, 0].max() == 0
    # The crop's top-left corner is at (80, 16) of the 384x256 resize, i.e. (125, 25) in the original.
    np.testing.assert_allclose(transform.points_to_frame(np.array([[0.0, 0.0]], np.float32)), [[125, 25]], atol=1e-3)


def test_tensor_writer_nchw_bgr_normalisation():
    writer = TensorWriter(spec("stretch", 2, 2, channel_order="BGR", mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395)))
    pixels = np.zeros((2, 2, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 10, 20, 30  # R, G, B
    tensor = writer.write(pixels)
    assert tensor.shape == (1, 3, 2, 2) and tensor.dtype == np.float32 and tensor.flags.c_contiguous
    # BGR models: channel 0 is blue.
    np.testing.assert_allclose(tensor[0, :, 0, 0], [(30 - 103.53) / 57.375, (20 - 116.28) / 57.12, (10 - 123.675) / 58.395], rtol=1e-6)
    assert writer.write(pixels) is tensor  # the same buffer, reused


def test_tensor_writer_nhwc_rgb_minus_one_to_one():
    writer = TensorWriter(spec("letterbox", 2, 2, layout="NHWC", mean=(127.5,) * 3, std=(127.5,) * 3))
    pixels = np.array([[[0, 255, 127]] * 2] * 2, np.uint8)
    tensor = writer.write(pixels)
    np.testing.assert_allclose(tensor[0, 0, 0], [-1.0, 1.0, -0.5 / 127.5], atol=1e-6)


def test_grayscale_integer_and_half_precision_inputs():
    pixels = np.array([[[10, 20, 30], [40, 50, 60]]], np.uint8)  # 1x2 RGB
    gray = TensorWriter(spec("stretch", 2, 1, channels=1, mean=(0.0,), std=(255.0,)))
    luma = np.asarray(Image.fromarray(pixels).convert("L"))
    np.testing.assert_allclose(gray.write(luma)[0, 0], luma / 255.0, rtol=1e-6)
    raw = TensorWriter(spec("letterbox", 2, 1, layout="NHWC", dtype="int32"))
    tensor = raw.write(pixels)
    assert tensor.dtype == np.int32 and tensor[0].tolist() == pixels.tolist()
    half = TensorWriter(spec("stretch", 2, 1, dtype="float16", mean=(127.5,) * 3, std=(127.5,) * 3))
    out = half.write(pixels)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out[0, :, 0, 0], (np.array([10, 20, 30]) - 127.5) / 127.5, atol=1e-3)


def test_batch_slots_are_written_separately():
    writer = TensorWriter(spec("stretch", 1, 1), batch=3)
    for slot, value in enumerate((10, 20, 30)):
        writer.write(np.full((1, 1, 3), value, np.uint8), slot)
    assert writer.tensor.shape == (3, 3, 1, 1)
    assert writer.tensor[:, 0, 0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("resize", ["shorter_side_center_crop", "letterbox", "stretch"])
@pytest.mark.parametrize("size", [(10_000, 1), (1, 10_000), (50_000, 1)])
def test_extreme_aspect_ratios_give_the_input_size(resize, size):
    image = Image.new("RGB", size, (200, 30, 30))
    image_spec = spec(resize, 224, 224, resize_shorter_to=256 if resize == "shorter_side_center_crop" else None)
    fitted, transform = fit(image, image_spec)
    assert fitted.size == (224, 224)
    # The crop or letterbox still maps back inside the frame.
    box = transform.boxes_to_frame(np.array([[0, 0, 224, 224]], np.float32))[0]
    assert 0 <= box[0] <= box[2] <= size[0] and 0 <= box[1] <= box[3] <= size[1]


PEAK_RSS = textwrap.dedent("""
    import asyncio, resource, sys
    sys.path.insert(0, sys.argv[1])
    import makers
    from inpage import load_model
    async def main():
        model = await load_model("efficientnet-lite0")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for size in ((10_000, 1), (50_000, 1), (1, 50_000)):
            predictions = await model.classify(makers.strip_png(*size))
            assert len(predictions) == 5
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(before, after)
    asyncio.run(main())
""")


def test_a_tiny_png_of_extreme_aspect_does_not_take_memory():
    # Before, a 10000x1 PNG (a hundred bytes) resized its short side to 256 first: 2.7 GB, and
    # 50000x1 more than a page has. Now the crop is resampled from its box: the process grows by
    # what the model's input needs.
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, str(ROOT / "tests")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    before_kb, after_kb = (int(v) for v in result.stdout.split())
    assert after_kb - before_kb < 64 * 1024, f"peak RSS grew by {(after_kb - before_kb) / 1024:.0f} MB"
