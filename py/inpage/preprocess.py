"""Pre-processing for image inputs: geometry (resize, centre crop, letterbox) and normalisation into the
model's input tensor.

Everything here is numpy and Pillow, so it runs the same on CPython and in Pyodide. Geometry
returns a :class:`FrameTransform` that maps model-input coordinates back to the original frame,
which detection and pose use to report positions in the caller's pixels.

Memory is bounded by the model's input, not by the image: a crop is resampled straight from its
box in the source image, so a 50000x1 strip costs no more than a square photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .specs import NUMPY_TYPES, ImageSpec

# Bilinear with Pillow's antialiasing filter: close to what the models were trained with, and
# the same C code in Pillow on CPython and in Pyodide.
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
        out = np.empty(boxes.shape, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.offset_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.offset_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.frame_height, out=out[:, 1::2])
        return out

    def points_to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map ...x2 ``(x, y)`` points to frame pixels (not clipped: a keypoint may sit off-frame)."""
        out = np.empty(points.shape, dtype=np.float32)
        out[..., 0] = (points[..., 0] - self.offset_x) / self.scale_x
        out[..., 1] = (points[..., 1] - self.offset_y) / self.scale_y
        return out



def fit_to_input(image: Image.Image, spec: ImageSpec) -> tuple[Image.Image, FrameTransform]:
    """Resize (and crop or pad) an RGB ``image`` to the model's input size, as the manifest says."""
    if spec.resize == "stretch":
        fitted, transform = _stretch(image, spec.width, spec.height)
    elif spec.resize == "letterbox":
        fitted, transform = _letterbox(image, spec.width, spec.height, spec.pad_value)
    else:
        fitted, transform = _shorter_side_center_crop(image, spec.resize_shorter_to or min(spec.size), spec.width, spec.height)
    if spec.channels == 1:
        # ITU-R 601-2 luma, the same formula in both Pillows.
        fitted = fitted.convert("L")
    return fitted, transform


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
    if (new_w, new_h) == (width, height):
        canvas = resized
    else:
        canvas = Image.new("RGB", (width, height), (pad_value,) * 3)
        canvas.paste(resized, (offset_x, offset_y))
    # Per-axis scales from the rounded size, so the inverse maps the frame's corners exactly.
    return canvas, FrameTransform(new_w / frame_w, new_h / frame_h, float(offset_x), float(offset_y), frame_w, frame_h)


def _shorter_side_center_crop(image: Image.Image, shorter: int, width: int, height: int) -> tuple[Image.Image, FrameTransform]:
    """The classic ImageNet evaluation crop: shorter side to ``shorter``, then the centre ``width`` x ``height``.

    The scaled frame is never made: the centre crop's box is computed in source pixels and
    resampled straight to the input size.
    """
    frame_w, frame_h = image.size
    scale = shorter / min(frame_w, frame_h)
    scaled_w = max(width, round(frame_w * scale))
    scaled_h = max(height, round(frame_h * scale))
    left = (scaled_w - width) // 2
    top = (scaled_h - height) // 2
    scale_x, scale_y = scaled_w / frame_w, scaled_h / frame_h
    box = (left / scale_x, top / scale_y, (left + width) / scale_x, (top + height) / scale_y)
    cropped = image.resize((width, height), RESAMPLE, box=box)
    return cropped, FrameTransform(scale_x, scale_y, -float(left), -float(top), frame_w, frame_h)


class TensorWriter:
    """Normalises images into one preallocated input tensor, reused call after call.

    Reusing the buffer matters in the page: the tensor is handed to onnxruntime-web as a view of
    this array's memory, and a fresh allocation per frame would only feed the garbage collector.
    ``batch`` slots are written one image at a time.
    """

    def __init__(self, spec: ImageSpec, batch: int = 1):
        self.spec = spec
        channels = spec.channels
        shape = (batch, channels, spec.height, spec.width) if spec.layout == "NCHW" else (batch, spec.height, spec.width, channels)
        self.tensor = np.zeros(shape, dtype=NUMPY_TYPES[spec.dtype])
        # Source channel index for each model channel: BGR models read RGB pixels backwards.
        self.channel_source = (2, 1, 0) if spec.channel_order == "BGR" and channels == 3 else tuple(range(channels))
        self.mean = np.asarray(spec.mean, dtype=np.float32)
        self.inv_std = (1.0 / np.asarray(spec.std, dtype=np.float64)).astype(np.float32)
        self.raw = spec.dtype in ("uint8", "int32")  # integer inputs take the pixels as they are
        # float16 models: normalise in float32, then one cast into the tensor.
        self.scratch = np.empty(shape[1:], np.float32) if spec.dtype == "float16" else None

    def write(self, pixels: np.ndarray, slot: int = 0) -> np.ndarray:
        """Fill batch slot ``slot`` from HxWx3 RGB (or HxW gray) uint8 pixels of the input's size."""
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        target = self.tensor[slot] if self.scratch is None else self.scratch
        if self.spec.layout == "NCHW":
            for channel, source in enumerate(self.channel_source):
                plane = target[channel]
                if self.raw:
                    plane[...] = pixels[:, :, source]
                else:
                    np.subtract(pixels[:, :, source], self.mean[channel], out=plane, casting="unsafe")
                    plane *= self.inv_std[channel]
        else:
            ordered = pixels if self.channel_source == tuple(range(pixels.shape[2])) else pixels[:, :, list(self.channel_source)]
            if self.raw:
                target[...] = ordered
            else:
                np.subtract(ordered, self.mean, out=target, casting="unsafe")
                target *= self.inv_std
        if self.scratch is not None:
            self.tensor[slot] = self.scratch
        return self.tensor
