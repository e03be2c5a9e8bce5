"""Smoke-check the committed models in models/ with onnxruntime on scikit-image's photos.

Run with an environment that has onnxruntime, numpy, Pillow and scikit-image:

    python build/models/check_models.py

It prints each model's inputs and outputs and what it finds, and exits non-zero
if a result is off: EfficientNet must call chelsea a cat and coffee an
espresso, NanoDet must find the person on astronaut, BlazeFace her face,
MoveNet her nose and shoulders, and the selfie mask must cover her and leave
the rocket photo empty.
The pre- and post-processing here is the minimum needed for that check; the
project's own code lives in py/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from skimage import data as photos

MODELS = Path(__file__).resolve().parents[2] / "models"
LABELS = {name: (MODELS / "labels" / f"{name}.txt").read_text().splitlines() for name in ("imagenet1k", "coco80")}
NANODET_MEAN = np.array([103.53, 116.28, 123.675], np.float32)  # BGR
NANODET_STD = np.array([57.375, 57.12, 58.395], np.float32)
MOVENET_KEYPOINTS = (
    "nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow right_elbow "
    "left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle right_ankle"
).split()


def session(name: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(MODELS / name), options, providers=["CPUExecutionProvider"])
    print(f"{name}")
    for kind, values in (("input", sess.get_inputs()), ("output", sess.get_outputs())):
        for value in values:
            print(f"  {kind:6} {value.name!r} {value.type} {value.shape}")
    return sess


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def classify(sess: ort.InferenceSession, image: Image.Image) -> list[tuple[str, float]]:
    """Short side to 256, centre crop 224, (x - 127) / 128, NCHW RGB."""
    scale = 256 / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    left, top = (image.width - 224) // 2, (image.height - 224) // 2
    x = (np.asarray(image.crop((left, top, left + 224, top + 224)), np.float32) - 127) / 128
    probs = softmax(sess.run(None, {"input": x.transpose(2, 0, 1)[None]})[0][0])
    return [(LABELS["imagenet1k"][i], float(probs[i])) for i in np.argsort(-probs)[:3]]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_limit: float) -> list[int]:
    order, keep = list(np.argsort(-scores)), []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        best, order = order[0], np.array(order[1:], int)
        keep.append(best)
        lo, hi = np.maximum(boxes[best, :2], boxes[order, :2]), np.minimum(boxes[best, 2:], boxes[order, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        order = list(order[inter / (area[best] + area[order] - inter) <= iou_limit])
    return keep


def detect(sess: ort.InferenceSession, image: Image.Image, threshold: float = 0.35) -> list[tuple[str, float, list]]:
    """Letterbox to 416 (centred, black border, as NanoDet was trained), BGR, normalise; decode the GFL head."""
    scale = 416 / max(image.size)
    w, h = round(image.width * scale), round(image.height * scale)
    dx, dy = (416 - w) // 2, (416 - h) // 2
    canvas = np.zeros((416, 416, 3), np.float32)
    canvas[dy : dy + h, dx : dx + w] = np.asarray(image.resize((w, h), Image.BILINEAR), np.float32)
    x = (canvas[..., ::-1] - NANODET_MEAN) / NANODET_STD
    outputs = sess.run(None, {sess.get_inputs()[0].name: x.transpose(2, 0, 1)[None]})

    # Pair the outputs by their number of cells; the names say nothing about the stride.
    scores = {o.shape[1]: o[0] for o in outputs if o.shape[2] == 80}
    dists = {o.shape[1]: o[0] for o in outputs if o.shape[2] == 44}
    boxes, best, classes = [], [], []
    for cells, score in scores.items():
        side = round(cells**0.5)
        stride = 416 // side
        # Each side's distance is the expectation over 11 bins, in strides.
        distance = (softmax(dists[cells].reshape(cells, 4, 11)) @ np.arange(11)) * stride
        col, row = np.arange(cells) % side, np.arange(cells) // side
        cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
        boxes.append(np.stack([cx, cy, cx, cy], 1) + distance * [-1, -1, 1, 1])
        best.append(score.max(1))
        classes.append(score.argmax(1))
    boxes, best, classes = np.concatenate(boxes), np.concatenate(best), np.concatenate(classes)
    found = []
    for cls in np.unique(classes[best > threshold]):
        idx = np.flatnonzero((classes == cls) & (best > threshold))
        for i in idx[nms(boxes[idx], best[idx], 0.5)]:
            box = (boxes[i] - [dx, dy, dx, dy]) / scale
            found.append((LABELS["coco80"][cls], float(best[i]), [round(float(v)) for v in box]))
    return sorted(found, key=lambda f: -f[1])


def blazeface_anchor_centres() -> np.ndarray:
    """MediaPipe's short-range anchors: 16x16 cells x 2, then 8x8 cells x 6, in input pixels."""
    centres = []
    for side, per_cell in ((16, 2), (8, 6)):
        for row in range(side):
            for col in range(side):
                centres += [((col + 0.5) * 128 / side, (row + 0.5) * 128 / side)] * per_cell
    return np.array(centres)


def find_face(sess: ort.InferenceSession, image: Image.Image) -> tuple[float, list]:
    """Best face: NHWC RGB 128, x / 127.5 - 1; returns its score and box in image pixels."""
    x = np.asarray(image.resize((128, 128), Image.BILINEAR), np.float32) / 127.5 - 1
    scores_16, scores_8, boxes_16, boxes_8 = sess.run(None, {"input:0": x[None]})
    logits = np.concatenate([scores_16[0, :, 0], scores_8[0, :, 0]])
    regress = np.concatenate([boxes_16[0], boxes_8[0]])
    i = int(np.argmax(logits))
    cx, cy = blazeface_anchor_centres()[i] + regress[i, :2]
    w, h = regress[i, 2:4]
    sx, sy = image.width / 128, image.height / 128
    box = [(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy]
    return float(1 / (1 + np.exp(-logits[i]))), [round(float(v)) for v in box]


def pose(sess: ort.InferenceSession, image: Image.Image) -> dict[str, tuple[float, float, float]]:
    """Letterbox to 192 (centred, black border), int32 RGB 0..255; keypoint name -> (x, y, score) in image pixels."""
    scale = 192 / max(image.size)
    w, h = round(image.width * scale), round(image.height * scale)
    dx, dy = (192 - w) // 2, (192 - h) // 2
    canvas = np.zeros((192, 192, 3), np.int32)
    canvas[dy : dy + h, dx : dx + w] = np.asarray(image.resize((w, h), Image.BILINEAR))
    keypoints = sess.run(None, {"input:0": canvas[None]})[0][0, 0]
    # (y, x) are fractions of the 192 square, letterbox included.
    return {
        name: ((x * 192 - dx) / scale, (y * 192 - dy) / scale, float(score))
        for name, (y, x, score) in zip(MOVENET_KEYPOINTS, keypoints, strict=True)
    }


def segment(sess: ort.InferenceSession, image: Image.Image) -> np.ndarray:
    """Stretch to 256x256, RGB / 255; the person probability (sigmoid applied), resized back to the image."""
    x = np.asarray(image.resize((256, 256), Image.BILINEAR), np.float32) / 255
    mask = sess.run(None, {"input_1:0": x[None]})[0][0, :, :, 0]
    return np.asarray(Image.fromarray(mask).resize(image.size, Image.BILINEAR))


def main() -> int:
    images = {
        name: Image.fromarray(getattr(photos, name)()).convert("RGB") for name in ("astronaut", "chelsea", "coffee")
    }
    failures = []

    sess = session("efficientnet-lite0.onnx")
    for name, expected in (("chelsea", {"tiger cat", "Egyptian cat", "tabby, tabby cat"}), ("coffee", {"espresso"})):
        top = classify(sess, images[name])
        print(f"  {name}: " + ", ".join(f"{label} {p:.2f}" for label, p in top))
        if top[0][0] not in expected:
            failures.append(f"efficientnet on {name}: {top[0][0]}")

    sess = session("nanodet-m-416.onnx")
    for name in images:
        found = detect(sess, images[name])
        print(f"  {name}: " + (", ".join(f"{label} {p:.2f} {box}" for label, p, box in found) or "nothing"))
        if name == "astronaut" and (not found or found[0][0] != "person"):
            failures.append("nanodet found no person on astronaut")

    sess = session("blazeface-front-128.onnx")
    for name in images:
        score, box = find_face(sess, images[name])
        print(f"  {name}: best face {score:.2f} at {box}")
        if (score > 0.5) != (name == "astronaut"):
            failures.append(f"blazeface on {name}: score {score:.2f}")

    sess = session("movenet-lightning-192.onnx")
    for name in images:
        points = pose(sess, images[name])
        shown = [f"{k} {points[k][2]:.2f} at {points[k][0]:.0f},{points[k][1]:.0f}" for k in ("nose", "left_shoulder")]
        print(f"  {name}: " + ", ".join(shown))
    # BlazeFace puts her face at [179,82,274,177]; the shoulders are well below it.
    points = pose(sess, images["astronaut"])
    x, y, score = points["nose"]
    if score < 0.3 or not (179 < x < 274 and 82 < y < 177):
        failures.append(f"movenet nose on astronaut: ({x:.0f},{y:.0f}) score {score:.2f}")
    for side in ("left_shoulder", "right_shoulder"):
        if points[side][2] < 0.3 or points[side][1] < 177:
            failures.append(f"movenet {side} on astronaut: {points[side]}")

    sess = session("selfie-256.onnx")
    for name, image in [*images.items(), ("rocket", Image.fromarray(photos.rocket()).convert("RGB"))]:
        person = float(np.mean(segment(sess, image) > 0.5))
        print(f"  {name}: person on {person:.0%} of the photo")
        if name == "rocket" and person > 0.01:
            failures.append(f"selfie on rocket: {person:.0%} person")
    # Her face (BlazeFace's box) must be covered, the flag in the top-left corner not.
    mask = segment(sess, images["astronaut"])
    face, corner = mask[82:177, 179:274].mean(), mask[:100, :60].mean()
    print(f"  astronaut: mean {face:.2f} on her face, {corner:.2f} on the flag")
    if face < 0.9 or corner > 0.1:
        failures.append(f"selfie on astronaut: {face:.2f} on her face, {corner:.2f} on the flag")

    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
