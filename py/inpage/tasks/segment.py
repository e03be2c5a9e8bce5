"""Segmentation: a per-pixel mask (a person mask, say), cropped to the image and ready to scale onto it.

Example::

    model = await load_model("selfie")
    result = await model.segment(frame)
    print(result.coverage)                              # the share of the image above the threshold
    mask = result.to_frame()                            # HxW uint8 0-255, the frame's size

The model's output is ``[1, H, W, 1]``, ``[1, 1, H, W]`` (one class: probabilities, or logits
with ``activation: "sigmoid"``) or ``[1, C, H, W]`` / ``[1, H, W, C]`` (C classes: softmax logits
or scores, read by argmax). The mask stays at the model's resolution, cropped to the part of the
input that shows the image (a letterbox's padding is cut off); ``box`` says where it lies in the
image's pixels, so it is small to send and exact to scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InferenceError
from ..postprocess import sigmoid, softmax
from . import ImageTask, Judge, mean, probability, register_task


@dataclass(frozen=True)
class Segmentation:
    """``mask``: HxW float32 probabilities (one class), or ``classes``: HxW uint8 class ids (several),
    covering ``box`` of the frame (the whole frame, except where a centre crop left the sides out)."""

    mask: np.ndarray | None
    classes: np.ndarray | None
    box: tuple[float, float, float, float]
    coverage: float
    labels: tuple[str, ...] | None = None
    frame_size: tuple[int, int] | None = None  # (width, height) of the frame; None: the box's

    def to_frame(self, threshold: float | None = None) -> np.ndarray:
        """The mask (or class map) on the whole image: uint8, HxW of the frame, resized into ``box``
        and 0 where the model saw nothing."""
        x0, y0, x1, y1 = (int(round(v)) for v in self.box)
        width, height = max(1, x1 - x0), max(1, y1 - y0)
        if self.mask is not None:
            values = self.mask if threshold is None else (self.mask >= threshold).astype(np.float32)
            image = Image.fromarray(np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8))
            inside = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
        else:
            inside = np.asarray(Image.fromarray(self.classes).resize((width, height), Image.Resampling.NEAREST))
        if self.frame_size is None or (x0, y0, width, height) == (0, 0, *self.frame_size):
            return inside
        frame = np.zeros((self.frame_size[1], self.frame_size[0]), np.uint8)
        frame[y0 : y0 + height, x0 : x0 + width] = inside[: self.frame_size[1] - y0, : self.frame_size[0] - x0]
        return frame


class SegmentJudge(Judge):
    """Masks compared on the photo's own pixels. Quality: mean IoU; below 0.7 a variant is broken.
    It runs by default only at a mean IoU of 0.9 or more."""

    quality_floor = 0.7

    @classmethod
    def results(cls, task, outputs, context):
        options = task.options({})
        # Compared on the photo's own pixels, so masks of models with other input sizes compare too.
        return task.finish(outputs, context, options).to_frame(options["threshold"]) >= 128

    @classmethod
    def compare(cls, base, variant, views):
        ious, agreement, per_view = [], [], []
        for view, b, v in zip(views, base, variant):
            union = int(np.count_nonzero(b | v))
            iou = 1.0 if union == 0 else int(np.count_nonzero(b & v)) / union  # both empty: they agree
            ious.append(iou)
            agreement.append(float(np.mean(b == v)))
            per_view.append({"view": view, "iou": round(iou, 4), "base_coverage": round(float(b.mean()), 4), "variant_coverage": round(float(v.mean()), 4)})
        return {
            "views": len(views),
            "mean_iou": mean(ious),
            "min_iou": round(min(ious), 4),
            "pixel_agreement": mean(agreement),
            "per_view": per_view,
        }

    @classmethod
    def quality(cls, figures):
        return figures["mean_iou"]

    @classmethod
    def runs_by_default(cls, figures):
        return figures["mean_iou"] >= 0.9

    @classmethod
    def summary(cls, figures):
        return {k: figures[k] for k in ("views", "mean_iou", "min_iou", "pixel_agreement")}

    @classmethod
    def headline(cls, figures):
        return f"mask IoU {figures['mean_iou']} (min {figures['min_iou']})"


def is_mask(shape, input_shape) -> bool:
    """A [1, H, W, C] or [1, C, H, W] output at the input's size (or a power-of-two fraction of it), C small."""
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape) or not all(isinstance(d, int) for d in input_shape):
        return False
    spatial = {d for d in input_shape[1:] if d > 4}
    for h, w, c in ((shape[1], shape[2], shape[3]), (shape[2], shape[3], shape[1])):
        if c <= 32 and any(h * f in spatial and w * f in spatial for f in (1, 2, 4, 8)):
            return True
    return False


@register_task
class Segment(ImageTask):
    name = "segment"
    method = "segment"
    defaults = {"threshold": 0.5}
    option_help = {"threshold": "a pixel whose probability is at or above it is in the mask"}
    cli_help = "segment an image: a mask (or class map) over it"
    judge = SegmentJudge

    @classmethod
    def recognise(cls, model):
        tensor, _layout = model.image_input()
        shape = model.single_output_shape()
        return tensor is not None and shape is not None and model.not_another_task("segment") and is_mask(shape, tensor.shape)

    @classmethod
    def plan(cls, model):
        entry = super().plan(model)
        if model.output:
            entry["output"] = model.scores_output()
        return entry

    def check_options(self, options):
        options["threshold"] = probability("threshold", options["threshold"])
        return options

    def finish(self, outputs, transform, options):
        raw = np.asarray(outputs[self.spec.score_output.name], dtype=np.float32)
        if raw.ndim == 4 and raw.shape[0] == 1:
            scores = raw[0] if self.channels_last(raw.shape) else raw[0].transpose(1, 2, 0)
        elif raw.ndim == 3 and raw.shape[0] == 1:
            scores = raw[0][:, :, None]
        else:
            raise InferenceError(f"segmentation output {list(raw.shape)} is not [1, H, W, C] or [1, C, H, W]")
        out_h, out_w, channels = scores.shape
        # The part of the model's input that shows the frame, in output pixels (letterbox padding cut off).
        width, height = self.spec.image.size
        fx, fy = out_w / width, out_h / height
        left = max(0, int(round(transform.offset_x * fx)))
        top = max(0, int(round(transform.offset_y * fy)))
        right = min(out_w, int(round((transform.offset_x + transform.frame_width * transform.scale_x) * fx)))
        bottom = min(out_h, int(round((transform.offset_y + transform.frame_height * transform.scale_y) * fy)))
        region = scores[top:bottom, left:right]
        # The part of the frame the model saw: all of it after a letterbox or a stretch, the middle
        # after a centre crop.
        frame_box = transform.boxes_to_frame(np.array([[0, 0, width, height]], np.float32))[0]
        box = tuple(float(v) for v in frame_box)
        frame_size = (transform.frame_width, transform.frame_height)
        if channels == 1:
            mask = region[:, :, 0]
            if self.spec.activation == "sigmoid":
                mask = sigmoid(mask)
            mask = np.ascontiguousarray(mask, dtype=np.float32)
            coverage = float((mask >= options["threshold"]).mean()) if mask.size else 0.0
            return Segmentation(mask, None, box, coverage, frame_size=frame_size)
        probabilities = softmax(region, axis=-1) if self.spec.activation == "softmax" else region
        classes = np.argmax(probabilities, axis=-1).astype(np.uint8)
        coverage = float((classes != 0).mean()) if classes.size else 0.0
        return Segmentation(None, classes, box, coverage, self.spec.labels, frame_size)

    def channels_last(self, shape) -> bool:
        """Whether a [1, a, b, c] output is [1, H, W, C] rather than [1, C, H, W]: the reading whose
        H:W is nearer the input's (a 150-class [1, 150, 128, 128] is NCHW); on a tie, the one whose
        channel axis is the smaller."""
        width, height = self.spec.image.size
        aspect = height / width

        def off(h, w):
            return abs(np.log((h / w) / aspect)) if h and w else np.inf

        nhwc, nchw = off(shape[1], shape[2]), off(shape[2], shape[3])
        if np.isclose(nhwc, nchw):
            return shape[-1] <= shape[1]
        return nhwc < nchw

    def describe(self, result):
        if result.mask is not None:
            height, width = result.mask.shape
            return [f"mask {width}x{height} over box {[round(v) for v in result.box]}, covering {100 * result.coverage:.1f}% of it"]
        height, width = result.classes.shape
        return [f"class map {width}x{height} over box {[round(v) for v in result.box]}, {100 * result.coverage:.1f}% not background"]

    def payload(self, result):
        payload = {"box": list(result.box), "coverage": result.coverage}
        if result.mask is not None:
            payload["mask"] = result.mask
        else:
            payload["classes"] = result.classes
            payload["labels"] = list(result.labels or [])
        return payload
