"""Pre-processing: geometry (resize, crop, letterbox) and normalisation into the model's input tensor.

Everything here is numpy and Pillow, so it runs the same on CPython and in Pyodide. The resize
returns a :class:`FrameTransform` that maps model-input coordinates back to the original frame,
which detection uses to report boxes in the caller's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .manifest import InputSpec, PreprocessSpec

# Bilinear with Pillow's antialiasing filter: matches what the models were trained with closely
# enough, and is the same C code in Pillow on CPython and in Pyodide.
RESAMPLE = Image.Resampling.BILINEAR


@dataclass(frozen=True)
class FrameTransform:
    """Maps model-input pixel coordinates back to the original frame: ``orig = (x - offset) / scale``."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    frame_width: int
    frame_height: int

    def boxes_to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Map Nx4 ``(x0, y0, x1, y1)`` boxes to frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.offset_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.offset_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.frame_height, out=out[:, 1::2])
        return out

    def points_to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map ...x2 ``(x, y)`` points to frame pixels (not clipped: a keypoint may sit off-frame)."""
        out = np.empty_like(points, dtype=np.float32)
        out[..., 0] = (points[..., 0] - self.offset_x) / self.scale_x
        out[..., 1] = (points[..., 1] - self.offset_y) / self.scale_y
        return out


def fit_to_input(image: Image.Image, spec: PreprocessSpec, width: int, height: int) -> tuple[Image.Image, FrameTransform]:
    """Resize (and crop or pad) ``image`` to exactly ``width`` x ``height`` as the manifest says."""
    if spec.resize == "stretch":
        return _stretch(image, width, height)
    if spec.resize == "letterbox":
        return _letterbox(image, width, height, spec.pad_value)
    return _shorter_side_center_crop(image, spec.resize_shorter_to or min(width, height), width, height)


def _stretch(image: Image.Image, width: int, height: int) -> tuple[Image.Image, FrameTransform]:
    frame_w, frame_h = image.size
    resized = image if image.size == (width, height) else image.resize((width, height), RESAMPLE)
    return resized, FrameTransform(width / frame_w, height / frame_h, 0.0, 0.0, frame_w, frame_h)


def _letterbox(image: Image.Image, width: int, height: int, pad_value: int) -> tuple[Image.Image, FrameTransform]:
    """Keep the aspect ratio: scale to fit inside the input, centre it, pad the rest."""
    frame_w, frame_h = image.size
    scale = min(width / frame_w, height / frame_h)
    new_w = max(1, min(width, round(frame_w * scale)))
    new_h = max(1, min(height, round(frame_h * scale)))
    resized = image if (new_w, new_h) == image.size else image.resize((new_w, new_h), RESAMPLE)
    offset_x = (width - new_w) // 2
    offset_y = (height - new_h) // 2
    canvas = Image.new("RGB", (width, height), (pad_value,) * 3)
    canvas.paste(resized, (offset_x, offset_y))
    # Per-axis scales from the rounded size, so the inverse maps the frame's corners exactly.
    return canvas, FrameTransform(new_w / frame_w, new_h / frame_h, float(offset_x), float(offset_y), frame_w, frame_h)


def _shorter_side_center_crop(image: Image.Image, shorter: int, width: int, height: int) -> tuple[Image.Image, FrameTransform]:
    """The classic ImageNet evaluation crop: shorter side to ``shorter``, then the centre ``width`` x ``height``."""
    frame_w, frame_h = image.size
    scale = shorter / min(frame_w, frame_h)
    new_w = max(width, round(frame_w * scale))
    new_h = max(height, round(frame_h * scale))
    resized = image.resize((new_w, new_h), RESAMPLE)
    left = (new_w - width) // 2
    top = (new_h - height) // 2
    cropped = resized.crop((left, top, left + width, top + height))
    return cropped, FrameTransform(new_w / frame_w, new_h / frame_h, -float(left), -float(top), frame_w, frame_h)


class TensorWriter:
    """Normalises RGB images into one preallocated float32 input tensor, reused call after call.

    Reusing the buffer matters in the page: the tensor is handed to onnxruntime-web as a view of
    this array's memory, and a fresh allocation per frame would only feed the garbage collector.
    """

    def __init__(self, input_spec: InputSpec, preprocess: PreprocessSpec):
        self.layout = input_spec.layout
        self.tensor = np.zeros(input_spec.shape, dtype=np.float32)
        # Source channel index for each model channel: BGR models read RGB pixels backwards.
        self.channel_source = (2, 1, 0) if preprocess.channel_order == "BGR" else (0, 1, 2)
        self.mean = np.asarray(preprocess.mean, dtype=np.float32)
        self.inv_std = (1.0 / np.asarray(preprocess.std, dtype=np.float64)).astype(np.float32)

    def write(self, pixels: np.ndarray) -> np.ndarray:
        """Fill the tensor from an HxWx3 uint8 RGB array that already has the input's size."""
        if self.layout == "NCHW":
            for channel, source in enumerate(self.channel_source):
                plane = self.tensor[0, channel]
                np.subtract(pixels[:, :, source], self.mean[channel], out=plane, casting="unsafe")
                plane *= self.inv_std[channel]
        else:
            hwc = self.tensor[0]
            ordered = pixels if self.channel_source == (0, 1, 2) else pixels[:, :, list(self.channel_source)]
            np.subtract(ordered, self.mean, out=hwc, casting="unsafe")
            hwc *= self.inv_std
        return self.tensor
